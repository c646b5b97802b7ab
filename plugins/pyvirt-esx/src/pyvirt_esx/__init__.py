"""VMware ESX, vCenter (vpx) and GSX for pyvirt: the vSphere API through pyVmomi, and VMX <-> domain XML."""
