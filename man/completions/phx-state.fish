# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_phx_state_global_optspecs
    string join \n v/verbose q/quiet h/help V/version
end

function __fish_phx_state_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_phx_state_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_phx_state_using_subcommand
    set -l cmd (__fish_phx_state_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c phx-state -n "__fish_phx_state_needs_command" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-state -n "__fish_phx_state_needs_command" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-state -n "__fish_phx_state_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c phx-state -n "__fish_phx_state_needs_command" -s V -l version -d 'Print version'
complete -c phx-state -n "__fish_phx_state_needs_command" -f -a "new" -d 'Print a new cluster document with the reference topology'
complete -c phx-state -n "__fish_phx_state_needs_command" -f -a "schema" -d 'Print the JSON Schema of the cluster document'
complete -c phx-state -n "__fish_phx_state_needs_command" -f -a "whoami" -d 'Print the AWS account and identity the credentials belong to'
complete -c phx-state -n "__fish_phx_state_needs_command" -f -a "init" -d 'Create the S3 bucket and DynamoDB lock table (idempotent)'
complete -c phx-state -n "__fish_phx_state_needs_command" -f -a "lock" -d 'Take the state lock and print your spec joined with the stored status'
complete -c phx-state -n "__fish_phx_state_needs_command" -f -a "push" -d 'Store the document from stdin as the next serial'
complete -c phx-state -n "__fish_phx_state_needs_command" -f -a "pull" -d 'Print the stored document'
complete -c phx-state -n "__fish_phx_state_needs_command" -f -a "history" -d 'List stored versions (a table on a terminal, JSON otherwise)'
complete -c phx-state -n "__fish_phx_state_needs_command" -f -a "unlock" -d 'Release the lock held by the document on stdin'
complete -c phx-state -n "__fish_phx_state_needs_command" -f -a "force-unlock" -d 'Release a lock by id, whoever holds it (as terraform force-unlock)'
complete -c phx-state -n "__fish_phx_state_needs_command" -f -a "join" -d 'Join the documents of stages that ran side by side on the document on stdin'
complete -c phx-state -n "__fish_phx_state_needs_command" -f -a "view" -d 'Show a pipeline\'s stages on the terminal, every line they print in a log file'
complete -c phx-state -n "__fish_phx_state_needs_command" -f -a "migrate" -d 'Move the state to another backend, keeping a backup of the old one'
complete -c phx-state -n "__fish_phx_state_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c phx-state -n "__fish_phx_state_using_subcommand new" -l name -d 'Cluster name (a-z, 0-9 and -, at most 32)' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand new" -l region -d 'AWS region of the cluster [default: AWS_REGION, else us-east-1]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand new" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-state -n "__fish_phx_state_using_subcommand new" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-state -n "__fish_phx_state_using_subcommand new" -s h -l help -d 'Print help'
complete -c phx-state -n "__fish_phx_state_using_subcommand schema" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-state -n "__fish_phx_state_using_subcommand schema" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-state -n "__fish_phx_state_using_subcommand schema" -s h -l help -d 'Print help'
complete -c phx-state -n "__fish_phx_state_using_subcommand whoami" -l region -d 'AWS region to ask in [default: AWS_REGION, profile]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand whoami" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-state -n "__fish_phx_state_using_subcommand whoami" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-state -n "__fish_phx_state_using_subcommand whoami" -s h -l help -d 'Print help'
complete -c phx-state -n "__fish_phx_state_using_subcommand init" -l bucket -d 'S3 bucket holding the state (selects the S3 backend) [spec.state.bucket]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand init" -l key -d 'Object key or file name of the state [spec.state.key; default <name>.json]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand init" -l lock-table -d 'DynamoDB lock table [spec.state.lockTable; default phx-locks]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand init" -l lock -d 'Lock mechanism of the S3 backend [spec.state.lock; default dynamodb]' -r -f -a "dynamodb\t'A conditional write of an item in a DynamoDB table'
s3\t'A `<key>.lock` object written with `If-None-Match: *`'"
complete -c phx-state -n "__fish_phx_state_using_subcommand init" -l region -d 'Region of the bucket and table [spec.state.region, then spec.region]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand init" -l dir -d 'Directory of the local backend (selects it) [spec.state.dir; default .phx-state]' -r -F
complete -c phx-state -n "__fish_phx_state_using_subcommand init" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-state -n "__fish_phx_state_using_subcommand init" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-state -n "__fish_phx_state_using_subcommand init" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c phx-state -n "__fish_phx_state_using_subcommand lock" -l bucket -d 'S3 bucket holding the state (selects the S3 backend) [spec.state.bucket]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand lock" -l key -d 'Object key or file name of the state [spec.state.key; default <name>.json]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand lock" -l lock-table -d 'DynamoDB lock table [spec.state.lockTable; default phx-locks]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand lock" -l lock -d 'Lock mechanism of the S3 backend [spec.state.lock; default dynamodb]' -r -f -a "dynamodb\t'A conditional write of an item in a DynamoDB table'
s3\t'A `<key>.lock` object written with `If-None-Match: *`'"
complete -c phx-state -n "__fish_phx_state_using_subcommand lock" -l region -d 'Region of the bucket and table [spec.state.region, then spec.region]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand lock" -l dir -d 'Directory of the local backend (selects it) [spec.state.dir; default .phx-state]' -r -F
complete -c phx-state -n "__fish_phx_state_using_subcommand lock" -l wait -d 'Keep trying (with backoff) for this long, e.g. 30s, 5m' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand lock" -l reason -d 'Why the lock is taken, shown to anyone who finds it held' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand lock" -l operation -d 'Operation recorded in the lock' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand lock" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-state -n "__fish_phx_state_using_subcommand lock" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-state -n "__fish_phx_state_using_subcommand lock" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c phx-state -n "__fish_phx_state_using_subcommand push" -l bucket -d 'S3 bucket holding the state (selects the S3 backend) [spec.state.bucket]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand push" -l key -d 'Object key or file name of the state [spec.state.key; default <name>.json]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand push" -l lock-table -d 'DynamoDB lock table [spec.state.lockTable; default phx-locks]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand push" -l lock -d 'Lock mechanism of the S3 backend [spec.state.lock; default dynamodb]' -r -f -a "dynamodb\t'A conditional write of an item in a DynamoDB table'
s3\t'A `<key>.lock` object written with `If-None-Match: *`'"
complete -c phx-state -n "__fish_phx_state_using_subcommand push" -l region -d 'Region of the bucket and table [spec.state.region, then spec.region]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand push" -l dir -d 'Directory of the local backend (selects it) [spec.state.dir; default .phx-state]' -r -F
complete -c phx-state -n "__fish_phx_state_using_subcommand push" -l unlock -d 'Release the lock afterwards (only the lock this document holds)'
complete -c phx-state -n "__fish_phx_state_using_subcommand push" -l force -d 'Store even when serial, lineage or lock do not match'
complete -c phx-state -n "__fish_phx_state_using_subcommand push" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-state -n "__fish_phx_state_using_subcommand push" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-state -n "__fish_phx_state_using_subcommand push" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c phx-state -n "__fish_phx_state_using_subcommand pull" -l bucket -d 'S3 bucket holding the state (selects the S3 backend) [spec.state.bucket]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand pull" -l key -d 'Object key or file name of the state [spec.state.key; default <name>.json]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand pull" -l lock-table -d 'DynamoDB lock table [spec.state.lockTable; default phx-locks]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand pull" -l lock -d 'Lock mechanism of the S3 backend [spec.state.lock; default dynamodb]' -r -f -a "dynamodb\t'A conditional write of an item in a DynamoDB table'
s3\t'A `<key>.lock` object written with `If-None-Match: *`'"
complete -c phx-state -n "__fish_phx_state_using_subcommand pull" -l region -d 'Region of the bucket and table [spec.state.region, then spec.region]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand pull" -l dir -d 'Directory of the local backend (selects it) [spec.state.dir; default .phx-state]' -r -F
complete -c phx-state -n "__fish_phx_state_using_subcommand pull" -l version -d 'A stored version (S3 version id, or serial for the local backend)' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand pull" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-state -n "__fish_phx_state_using_subcommand pull" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-state -n "__fish_phx_state_using_subcommand pull" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c phx-state -n "__fish_phx_state_using_subcommand history" -l bucket -d 'S3 bucket holding the state (selects the S3 backend) [spec.state.bucket]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand history" -l key -d 'Object key or file name of the state [spec.state.key; default <name>.json]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand history" -l lock-table -d 'DynamoDB lock table [spec.state.lockTable; default phx-locks]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand history" -l lock -d 'Lock mechanism of the S3 backend [spec.state.lock; default dynamodb]' -r -f -a "dynamodb\t'A conditional write of an item in a DynamoDB table'
s3\t'A `<key>.lock` object written with `If-None-Match: *`'"
complete -c phx-state -n "__fish_phx_state_using_subcommand history" -l region -d 'Region of the bucket and table [spec.state.region, then spec.region]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand history" -l dir -d 'Directory of the local backend (selects it) [spec.state.dir; default .phx-state]' -r -F
complete -c phx-state -n "__fish_phx_state_using_subcommand history" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-state -n "__fish_phx_state_using_subcommand history" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-state -n "__fish_phx_state_using_subcommand history" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c phx-state -n "__fish_phx_state_using_subcommand unlock" -l bucket -d 'S3 bucket holding the state (selects the S3 backend) [spec.state.bucket]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand unlock" -l key -d 'Object key or file name of the state [spec.state.key; default <name>.json]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand unlock" -l lock-table -d 'DynamoDB lock table [spec.state.lockTable; default phx-locks]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand unlock" -l lock -d 'Lock mechanism of the S3 backend [spec.state.lock; default dynamodb]' -r -f -a "dynamodb\t'A conditional write of an item in a DynamoDB table'
s3\t'A `<key>.lock` object written with `If-None-Match: *`'"
complete -c phx-state -n "__fish_phx_state_using_subcommand unlock" -l region -d 'Region of the bucket and table [spec.state.region, then spec.region]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand unlock" -l dir -d 'Directory of the local backend (selects it) [spec.state.dir; default .phx-state]' -r -F
complete -c phx-state -n "__fish_phx_state_using_subcommand unlock" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-state -n "__fish_phx_state_using_subcommand unlock" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-state -n "__fish_phx_state_using_subcommand unlock" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c phx-state -n "__fish_phx_state_using_subcommand force-unlock" -l bucket -d 'S3 bucket holding the state (selects the S3 backend) [spec.state.bucket]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand force-unlock" -l key -d 'Object key or file name of the state [spec.state.key; default <name>.json]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand force-unlock" -l lock-table -d 'DynamoDB lock table [spec.state.lockTable; default phx-locks]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand force-unlock" -l lock -d 'Lock mechanism of the S3 backend [spec.state.lock; default dynamodb]' -r -f -a "dynamodb\t'A conditional write of an item in a DynamoDB table'
s3\t'A `<key>.lock` object written with `If-None-Match: *`'"
complete -c phx-state -n "__fish_phx_state_using_subcommand force-unlock" -l region -d 'Region of the bucket and table [spec.state.region, then spec.region]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand force-unlock" -l dir -d 'Directory of the local backend (selects it) [spec.state.dir; default .phx-state]' -r -F
complete -c phx-state -n "__fish_phx_state_using_subcommand force-unlock" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-state -n "__fish_phx_state_using_subcommand force-unlock" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-state -n "__fish_phx_state_using_subcommand force-unlock" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c phx-state -n "__fish_phx_state_using_subcommand join" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-state -n "__fish_phx_state_using_subcommand join" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-state -n "__fish_phx_state_using_subcommand join" -s h -l help -d 'Print help'
complete -c phx-state -n "__fish_phx_state_using_subcommand view" -l log -d 'The log file: created (mode 0600, its directory 0700) or appended to' -r -F
complete -c phx-state -n "__fish_phx_state_using_subcommand view" -l quiet -d 'Draw nothing: the log file only'
complete -c phx-state -n "__fish_phx_state_using_subcommand view" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-state -n "__fish_phx_state_using_subcommand view" -s h -l help -d 'Print help'
complete -c phx-state -n "__fish_phx_state_using_subcommand migrate" -l bucket -d 'S3 bucket holding the state (selects the S3 backend) [spec.state.bucket]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand migrate" -l key -d 'Object key or file name of the state [spec.state.key; default <name>.json]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand migrate" -l lock-table -d 'DynamoDB lock table [spec.state.lockTable; default phx-locks]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand migrate" -l lock -d 'Lock mechanism of the S3 backend [spec.state.lock; default dynamodb]' -r -f -a "dynamodb\t'A conditional write of an item in a DynamoDB table'
s3\t'A `<key>.lock` object written with `If-None-Match: *`'"
complete -c phx-state -n "__fish_phx_state_using_subcommand migrate" -l region -d 'Region of the bucket and table [spec.state.region, then spec.region]' -r
complete -c phx-state -n "__fish_phx_state_using_subcommand migrate" -l dir -d 'Directory of the local backend (selects it) [spec.state.dir; default .phx-state]' -r -F
complete -c phx-state -n "__fish_phx_state_using_subcommand migrate" -l to -d 'The backend to move to' -r -f -a "local\t''
s3\t''"
complete -c phx-state -n "__fish_phx_state_using_subcommand migrate" -l force -d 'Overwrite state already at the destination'
complete -c phx-state -n "__fish_phx_state_using_subcommand migrate" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-state -n "__fish_phx_state_using_subcommand migrate" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-state -n "__fish_phx_state_using_subcommand migrate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c phx-state -n "__fish_phx_state_using_subcommand help; and not __fish_seen_subcommand_from new schema whoami init lock push pull history unlock force-unlock join view migrate help" -f -a "new" -d 'Print a new cluster document with the reference topology'
complete -c phx-state -n "__fish_phx_state_using_subcommand help; and not __fish_seen_subcommand_from new schema whoami init lock push pull history unlock force-unlock join view migrate help" -f -a "schema" -d 'Print the JSON Schema of the cluster document'
complete -c phx-state -n "__fish_phx_state_using_subcommand help; and not __fish_seen_subcommand_from new schema whoami init lock push pull history unlock force-unlock join view migrate help" -f -a "whoami" -d 'Print the AWS account and identity the credentials belong to'
complete -c phx-state -n "__fish_phx_state_using_subcommand help; and not __fish_seen_subcommand_from new schema whoami init lock push pull history unlock force-unlock join view migrate help" -f -a "init" -d 'Create the S3 bucket and DynamoDB lock table (idempotent)'
complete -c phx-state -n "__fish_phx_state_using_subcommand help; and not __fish_seen_subcommand_from new schema whoami init lock push pull history unlock force-unlock join view migrate help" -f -a "lock" -d 'Take the state lock and print your spec joined with the stored status'
complete -c phx-state -n "__fish_phx_state_using_subcommand help; and not __fish_seen_subcommand_from new schema whoami init lock push pull history unlock force-unlock join view migrate help" -f -a "push" -d 'Store the document from stdin as the next serial'
complete -c phx-state -n "__fish_phx_state_using_subcommand help; and not __fish_seen_subcommand_from new schema whoami init lock push pull history unlock force-unlock join view migrate help" -f -a "pull" -d 'Print the stored document'
complete -c phx-state -n "__fish_phx_state_using_subcommand help; and not __fish_seen_subcommand_from new schema whoami init lock push pull history unlock force-unlock join view migrate help" -f -a "history" -d 'List stored versions (a table on a terminal, JSON otherwise)'
complete -c phx-state -n "__fish_phx_state_using_subcommand help; and not __fish_seen_subcommand_from new schema whoami init lock push pull history unlock force-unlock join view migrate help" -f -a "unlock" -d 'Release the lock held by the document on stdin'
complete -c phx-state -n "__fish_phx_state_using_subcommand help; and not __fish_seen_subcommand_from new schema whoami init lock push pull history unlock force-unlock join view migrate help" -f -a "force-unlock" -d 'Release a lock by id, whoever holds it (as terraform force-unlock)'
complete -c phx-state -n "__fish_phx_state_using_subcommand help; and not __fish_seen_subcommand_from new schema whoami init lock push pull history unlock force-unlock join view migrate help" -f -a "join" -d 'Join the documents of stages that ran side by side on the document on stdin'
complete -c phx-state -n "__fish_phx_state_using_subcommand help; and not __fish_seen_subcommand_from new schema whoami init lock push pull history unlock force-unlock join view migrate help" -f -a "view" -d 'Show a pipeline\'s stages on the terminal, every line they print in a log file'
complete -c phx-state -n "__fish_phx_state_using_subcommand help; and not __fish_seen_subcommand_from new schema whoami init lock push pull history unlock force-unlock join view migrate help" -f -a "migrate" -d 'Move the state to another backend, keeping a backup of the old one'
complete -c phx-state -n "__fish_phx_state_using_subcommand help; and not __fish_seen_subcommand_from new schema whoami init lock push pull history unlock force-unlock join view migrate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
