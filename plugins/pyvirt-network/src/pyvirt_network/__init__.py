"""pyvirt-network: libvirt virtual networks (bridges, NAT, DHCP/DNS with dnsmasq) for pyvirt."""
