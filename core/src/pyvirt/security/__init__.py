"""Security drivers and the stack that runs libvirt's label lifecycle over them.

GenLabel → SetAllLabel → SetProcessLabel (in the child) → GetProcessLabel →
RestoreAllLabel → ReleaseLabel. Hypervisor drivers talk to ``SecurityStack``
only; ``dac`` and ``none`` live here, ``selinux`` and ``apparmor`` are plugins.
"""
