"""pyvirt's AppArmor security driver."""
