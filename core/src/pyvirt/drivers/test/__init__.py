"""The ``test:///`` driver: libvirt's in-memory test hypervisor, with its default fixture."""
