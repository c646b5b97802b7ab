"""The ``lxc`` hypervisor driver for pyvirt: Linux containers run by a controller process each."""
