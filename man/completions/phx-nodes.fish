# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_phx_nodes_global_optspecs
    string join \n v/verbose q/quiet h/help V/version
end

function __fish_phx_nodes_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_phx_nodes_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_phx_nodes_using_subcommand
    set -l cmd (__fish_phx_nodes_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c phx-nodes -n "__fish_phx_nodes_needs_command" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-nodes -n "__fish_phx_nodes_needs_command" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-nodes -n "__fish_phx_nodes_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c phx-nodes -n "__fish_phx_nodes_needs_command" -s V -l version -d 'Print version'
complete -c phx-nodes -n "__fish_phx_nodes_needs_command" -f -a "apply" -d 'Launch what is missing and wait until every node is running (status.nodes.instances)'
complete -c phx-nodes -n "__fish_phx_nodes_needs_command" -f -a "plan" -d 'Show what apply would launch, start or terminate; changes nothing'
complete -c phx-nodes -n "__fish_phx_nodes_needs_command" -f -a "destroy" -d 'Terminate the cluster\'s instances, wait until they are gone, delete the key pair'
complete -c phx-nodes -n "__fish_phx_nodes_needs_command" -f -a "status" -d 'Print the instances found and what apply would change (JSON); changes nothing'
complete -c phx-nodes -n "__fish_phx_nodes_needs_command" -f -a "list" -d 'List the cluster\'s instances: a table on a terminal, a JSON array otherwise'
complete -c phx-nodes -n "__fish_phx_nodes_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand apply" -l timeout -d 'How long to wait for instances to be running (or terminated)' -r
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand apply" -l allow-remove -d 'Terminate workers beyond spec.nodes.workers.count (highest-numbered first), and control planes beyond spec.nodes.controlPlane.count that have left the cluster'
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand apply" -l newest-image -d 'Launch new nodes from the newest Ubuntu image instead of the cluster\'s current one'
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand apply" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand apply" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand apply" -s h -l help -d 'Print help'
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand plan" -l timeout -d 'How long to wait for instances to be running (or terminated)' -r
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand plan" -l allow-remove -d 'Terminate workers beyond spec.nodes.workers.count (highest-numbered first), and control planes beyond spec.nodes.controlPlane.count that have left the cluster'
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand plan" -l newest-image -d 'Launch new nodes from the newest Ubuntu image instead of the cluster\'s current one'
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand plan" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand plan" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand plan" -s h -l help -d 'Print help'
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand destroy" -l timeout -d 'How long to wait for instances to be running (or terminated)' -r
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand destroy" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand destroy" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand destroy" -s h -l help -d 'Print help'
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand status" -l timeout -d 'How long to wait for instances to be running (or terminated)' -r
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand status" -l allow-remove -d 'Terminate workers beyond spec.nodes.workers.count (highest-numbered first), and control planes beyond spec.nodes.controlPlane.count that have left the cluster'
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand status" -l newest-image -d 'Launch new nodes from the newest Ubuntu image instead of the cluster\'s current one'
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand status" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand status" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand status" -s h -l help -d 'Print help'
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand list" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand list" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand list" -s h -l help -d 'Print help'
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand help; and not __fish_seen_subcommand_from apply plan destroy status list help" -f -a "apply" -d 'Launch what is missing and wait until every node is running (status.nodes.instances)'
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand help; and not __fish_seen_subcommand_from apply plan destroy status list help" -f -a "plan" -d 'Show what apply would launch, start or terminate; changes nothing'
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand help; and not __fish_seen_subcommand_from apply plan destroy status list help" -f -a "destroy" -d 'Terminate the cluster\'s instances, wait until they are gone, delete the key pair'
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand help; and not __fish_seen_subcommand_from apply plan destroy status list help" -f -a "status" -d 'Print the instances found and what apply would change (JSON); changes nothing'
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand help; and not __fish_seen_subcommand_from apply plan destroy status list help" -f -a "list" -d 'List the cluster\'s instances: a table on a terminal, a JSON array otherwise'
complete -c phx-nodes -n "__fish_phx_nodes_using_subcommand help; and not __fish_seen_subcommand_from apply plan destroy status list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
