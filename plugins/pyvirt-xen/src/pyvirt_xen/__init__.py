"""pyvirt-xen: the Xen (libxl/xl toolstack) hypervisor driver for pyvirt."""
