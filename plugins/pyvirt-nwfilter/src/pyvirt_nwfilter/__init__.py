"""pyvirt-nwfilter: libvirt's network filters (``nwfilter:///system``) for pyvirt, applied with nftables."""
