"""pyvirt's SELinux security driver (sVirt)."""
