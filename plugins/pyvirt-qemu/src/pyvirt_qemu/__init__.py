"""pyvirt's QEMU/KVM hypervisor driver."""
