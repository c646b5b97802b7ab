"""pyvirt-storage: libvirt's storage driver (pools and volumes) for pyvirt, with the ``dir`` backend."""
