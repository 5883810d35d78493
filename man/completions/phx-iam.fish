# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_phx_iam_global_optspecs
    string join \n v/verbose q/quiet h/help V/version
end

function __fish_phx_iam_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_phx_iam_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_phx_iam_using_subcommand
    set -l cmd (__fish_phx_iam_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c phx-iam -n "__fish_phx_iam_needs_command" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-iam -n "__fish_phx_iam_needs_command" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-iam -n "__fish_phx_iam_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c phx-iam -n "__fish_phx_iam_needs_command" -s V -l version -d 'Print version'
complete -c phx-iam -n "__fish_phx_iam_needs_command" -f -a "apply" -d 'Create what is missing and correct what differs (status.iam)'
complete -c phx-iam -n "__fish_phx_iam_needs_command" -f -a "plan" -d 'Show what apply would create or change; changes nothing'
complete -c phx-iam -n "__fish_phx_iam_needs_command" -f -a "destroy" -d 'Delete the cluster\'s roles and instance profiles'
complete -c phx-iam -n "__fish_phx_iam_needs_command" -f -a "status" -d 'Print which roles exist and what apply would change (JSON); changes nothing'
complete -c phx-iam -n "__fish_phx_iam_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c phx-iam -n "__fish_phx_iam_using_subcommand apply" -l timeout -d 'Give up on a request AWS keeps throttling after this long' -r
complete -c phx-iam -n "__fish_phx_iam_using_subcommand apply" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-iam -n "__fish_phx_iam_using_subcommand apply" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-iam -n "__fish_phx_iam_using_subcommand apply" -s h -l help -d 'Print help'
complete -c phx-iam -n "__fish_phx_iam_using_subcommand plan" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-iam -n "__fish_phx_iam_using_subcommand plan" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-iam -n "__fish_phx_iam_using_subcommand plan" -s h -l help -d 'Print help'
complete -c phx-iam -n "__fish_phx_iam_using_subcommand destroy" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-iam -n "__fish_phx_iam_using_subcommand destroy" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-iam -n "__fish_phx_iam_using_subcommand destroy" -s h -l help -d 'Print help'
complete -c phx-iam -n "__fish_phx_iam_using_subcommand status" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-iam -n "__fish_phx_iam_using_subcommand status" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-iam -n "__fish_phx_iam_using_subcommand status" -s h -l help -d 'Print help'
complete -c phx-iam -n "__fish_phx_iam_using_subcommand help; and not __fish_seen_subcommand_from apply plan destroy status help" -f -a "apply" -d 'Create what is missing and correct what differs (status.iam)'
complete -c phx-iam -n "__fish_phx_iam_using_subcommand help; and not __fish_seen_subcommand_from apply plan destroy status help" -f -a "plan" -d 'Show what apply would create or change; changes nothing'
complete -c phx-iam -n "__fish_phx_iam_using_subcommand help; and not __fish_seen_subcommand_from apply plan destroy status help" -f -a "destroy" -d 'Delete the cluster\'s roles and instance profiles'
complete -c phx-iam -n "__fish_phx_iam_using_subcommand help; and not __fish_seen_subcommand_from apply plan destroy status help" -f -a "status" -d 'Print which roles exist and what apply would change (JSON); changes nothing'
complete -c phx-iam -n "__fish_phx_iam_using_subcommand help; and not __fish_seen_subcommand_from apply plan destroy status help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
