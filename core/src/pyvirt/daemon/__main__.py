"""``python -m pyvirt.daemon``: the same as the ``pyvirtd`` command."""

from pyvirt.daemon.main import console_main

console_main()
