# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_phx_kubeadm_global_optspecs
    string join \n v/verbose q/quiet h/help V/version
end

function __fish_phx_kubeadm_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_phx_kubeadm_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_phx_kubeadm_using_subcommand
    set -l cmd (__fish_phx_kubeadm_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c phx-kubeadm -n "__fish_phx_kubeadm_needs_command" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_needs_command" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_needs_command" -s V -l version -d 'Print version'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_needs_command" -f -a "apply" -d 'Prepare every node, init the control plane, join the workers (status.kubeadm)'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_needs_command" -f -a "plan" -d 'Show which steps would run on which node; changes nothing'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_needs_command" -f -a "reset" -d 'Run kubeadm reset on every node (workers first), for a redo'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_needs_command" -f -a "destroy" -d 'Take the cluster down: reset every node (workers first), delete the admin kubeconfig'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_needs_command" -f -a "status" -d 'Print each node\'s membership as the node itself reports it (JSON); changes nothing'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_needs_command" -f -a "backup" -d 'Snapshot etcd into the state bucket, then apply spec.backup.keep (status.kubeadm.backups)'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_needs_command" -f -a "backups" -d 'List the etcd snapshots in the state bucket (a table on a terminal, else JSON)'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_needs_command" -f -a "restore" -d 'Put the cluster\'s etcd back to a snapshot on every control plane; asks first'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_needs_command" -f -a "upgrade" -d 'Upgrade the cluster to spec.kubernetes.version, one node at a time (status.kubeadm.upgrade)'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_needs_command" -f -a "exec" -d 'Run a command on nodes in parallel; output prefixed by node, exit status the worst'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand apply" -l known-hosts -d 'OpenSSH known_hosts file for nodes without recorded host keys' -r
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand apply" -l connect-timeout -d 'How long to wait for a node\'s SSH handshake' -r
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand apply" -l kubeconfig-out -d 'Where to write the admin kubeconfig (mode 0600); default ~/.kube/phx-<name>.conf' -r -F
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand apply" -l accept-new-host-keys -d 'Accept a host key seen for the first time and pin it into the document'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand apply" -l allow-remove -d 'Let control planes beyond spec.nodes.controlPlane.count leave the cluster, one at a time, highest-numbered first: kubeadm reset on each, its etcd member removed, its Node deleted (phx-nodes apply --allow-remove then terminates them). Without it they are refused: each takes an etcd member with it'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand apply" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand apply" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand apply" -s h -l help -d 'Print help'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand plan" -l known-hosts -d 'OpenSSH known_hosts file for nodes without recorded host keys' -r
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand plan" -l connect-timeout -d 'How long to wait for a node\'s SSH handshake' -r
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand plan" -l accept-new-host-keys -d 'Accept a host key seen for the first time and pin it into the document'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand plan" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand plan" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand plan" -s h -l help -d 'Print help'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand reset" -l known-hosts -d 'OpenSSH known_hosts file for nodes without recorded host keys' -r
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand reset" -l connect-timeout -d 'How long to wait for a node\'s SSH handshake' -r
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand reset" -l accept-new-host-keys -d 'Accept a host key seen for the first time and pin it into the document'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand reset" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand reset" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand reset" -s h -l help -d 'Print help'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand destroy" -l known-hosts -d 'OpenSSH known_hosts file for nodes without recorded host keys' -r
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand destroy" -l connect-timeout -d 'How long to wait for a node\'s SSH handshake' -r
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand destroy" -l accept-new-host-keys -d 'Accept a host key seen for the first time and pin it into the document'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand destroy" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand destroy" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand destroy" -s h -l help -d 'Print help'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand status" -l known-hosts -d 'OpenSSH known_hosts file for nodes without recorded host keys' -r
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand status" -l connect-timeout -d 'How long to wait for a node\'s SSH handshake' -r
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand status" -l accept-new-host-keys -d 'Accept a host key seen for the first time and pin it into the document'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand status" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand status" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand status" -s h -l help -d 'Print help'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand backup" -l known-hosts -d 'OpenSSH known_hosts file for nodes without recorded host keys' -r
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand backup" -l connect-timeout -d 'How long to wait for a node\'s SSH handshake' -r
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand backup" -l accept-new-host-keys -d 'Accept a host key seen for the first time and pin it into the document'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand backup" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand backup" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand backup" -s h -l help -d 'Print help'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand backups" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand backups" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand backups" -s h -l help -d 'Print help'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand restore" -l known-hosts -d 'OpenSSH known_hosts file for nodes without recorded host keys' -r
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand restore" -l connect-timeout -d 'How long to wait for a node\'s SSH handshake' -r
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand restore" -l from -d 'The snapshot: `latest`, or its key (as `phx-kubeadm backups` lists it, with or without the `<name>/etcd/` prefix)' -r
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand restore" -l accept-new-host-keys -d 'Accept a host key seen for the first time and pin it into the document'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand restore" -l yes -d 'Do not ask (the cluster\'s API goes down meanwhile, and what it stored since the snapshot is lost)'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand restore" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand restore" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand restore" -s h -l help -d 'Print help'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand upgrade" -l known-hosts -d 'OpenSSH known_hosts file for nodes without recorded host keys' -r
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand upgrade" -l connect-timeout -d 'How long to wait for a node\'s SSH handshake' -r
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand upgrade" -l max-unavailable -d 'Workers upgraded at once (control planes always one at a time)' -r
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand upgrade" -l drain-timeout -d 'How long a node\'s drain may take; a drain blocked longer (a PodDisruptionBudget allowing no eviction) stops the upgrade, naming the budget and its pods' -r
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand upgrade" -l node-timeout -d 'How long a node gets to be Ready at the new version, and the cluster to be whole again after each node' -r
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand upgrade" -l accept-new-host-keys -d 'Accept a host key seen for the first time and pin it into the document'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand upgrade" -l force-drain -d 'Delete the pods a drain cannot evict (PodDisruptionBudgets ignored)'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand upgrade" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand upgrade" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand upgrade" -s h -l help -d 'Print help'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand exec" -l known-hosts -d 'OpenSSH known_hosts file for nodes without recorded host keys' -r
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand exec" -l connect-timeout -d 'How long to wait for a node\'s SSH handshake' -r
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand exec" -l role -d 'Only nodes of this role' -r -f -a "control-plane\t''
worker\t''"
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand exec" -l node -d 'Only this node (repeatable)' -r
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand exec" -l accept-new-host-keys -d 'Accept a host key seen for the first time and pin it into the document'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand exec" -s v -l verbose -d 'More log detail on stderr (-v info, -vv debug, -vvv trace)'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand exec" -s q -l quiet -d 'Only errors on stderr'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand exec" -s h -l help -d 'Print help'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand help; and not __fish_seen_subcommand_from apply plan reset destroy status backup backups restore upgrade exec help" -f -a "apply" -d 'Prepare every node, init the control plane, join the workers (status.kubeadm)'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand help; and not __fish_seen_subcommand_from apply plan reset destroy status backup backups restore upgrade exec help" -f -a "plan" -d 'Show which steps would run on which node; changes nothing'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand help; and not __fish_seen_subcommand_from apply plan reset destroy status backup backups restore upgrade exec help" -f -a "reset" -d 'Run kubeadm reset on every node (workers first), for a redo'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand help; and not __fish_seen_subcommand_from apply plan reset destroy status backup backups restore upgrade exec help" -f -a "destroy" -d 'Take the cluster down: reset every node (workers first), delete the admin kubeconfig'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand help; and not __fish_seen_subcommand_from apply plan reset destroy status backup backups restore upgrade exec help" -f -a "status" -d 'Print each node\'s membership as the node itself reports it (JSON); changes nothing'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand help; and not __fish_seen_subcommand_from apply plan reset destroy status backup backups restore upgrade exec help" -f -a "backup" -d 'Snapshot etcd into the state bucket, then apply spec.backup.keep (status.kubeadm.backups)'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand help; and not __fish_seen_subcommand_from apply plan reset destroy status backup backups restore upgrade exec help" -f -a "backups" -d 'List the etcd snapshots in the state bucket (a table on a terminal, else JSON)'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand help; and not __fish_seen_subcommand_from apply plan reset destroy status backup backups restore upgrade exec help" -f -a "restore" -d 'Put the cluster\'s etcd back to a snapshot on every control plane; asks first'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand help; and not __fish_seen_subcommand_from apply plan reset destroy status backup backups restore upgrade exec help" -f -a "upgrade" -d 'Upgrade the cluster to spec.kubernetes.version, one node at a time (status.kubeadm.upgrade)'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand help; and not __fish_seen_subcommand_from apply plan reset destroy status backup backups restore upgrade exec help" -f -a "exec" -d 'Run a command on nodes in parallel; output prefixed by node, exit status the worst'
complete -c phx-kubeadm -n "__fish_phx_kubeadm_using_subcommand help; and not __fish_seen_subcommand_from apply plan reset destroy status backup backups restore upgrade exec help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
