"""``pyvirsh``: virsh's commands, options, output and exit codes."""
