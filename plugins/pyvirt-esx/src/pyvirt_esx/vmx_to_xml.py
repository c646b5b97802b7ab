"""``domxml-from-native vmware-vmx``: a VMX file to domain XML, following libvirt 9.0's virVMXParseConfig.

The VMX entries are read into a domain XML tree with every value libvirt's
converter sets (it fills in what its XML parser would default), read into
pyvirt's domain model and formatted by it, so the output has the model's
canonical form. The model is read without the XML parser's cross-device
checks because libvirt's converter does not run them either: a VMX file
with a SCSI disk ``sda`` and a SATA CD-ROM ``sda`` converts in libvirt, and
so it does here. ``vmx_to_domain`` gives the model, ``vmx_to_xml`` the text.
"""

from __future__ import annotations

from lxml import etree

from pyvirt.conf.domain import VIR_DOMAIN_XML_SECURE, Domain, format_domain
from pyvirt.conf.xmlmodel import parse_model
from pyvirt.errors import Error
from pyvirt_esx.vmx_context import VmxContext, format_mac, parse_mac, parse_uuid
from pyvirt_esx.vmx_disks import SCSI_SUPER_WIDE_MAX_UNIT, SCSI_WIDE_MAX_UNIT, DiskReader
from pyvirt_esx.vmx_disks import sub_element as _sub
from pyvirt_esx.vmx_file import VmxConfig, decode_vmx, unescape_hex, vmx_error, vmx_unsupported

__all__ = ["VMWARE_NS", "vmx_to_domain", "vmx_to_xml", "with_vmware_metadata"]

VMWARE_NS = "http://libvirt.org/schemas/domain/vmware/1.0"
NET_MODELS = {"vlance": "vlance", "vmxnet": "vmxnet", "vmxnet3": "vmxnet3", "e1000": "e1000", "e1000e": "e1000e"}
CPUMASK_LEN = 16384  # VIR_DOMAIN_CPUMASK_LEN


class _Converter:
    def __init__(self, ctx: VmxContext, conf: VmxConfig) -> None:
        if ctx.parse_file_name is None:
            raise vmx_error("virVMXContext has no parseFileName function set")
        self.ctx = ctx
        self.parse_file_name = ctx.parse_file_name
        self.conf = conf
        self.scsi_max_unit = SCSI_WIDE_MAX_UNIT

    # ---- the domain ------------------------------------------------------------------------------------------
    def convert(self) -> etree._Element:
        conf = self.conf
        networks_max = self._networks_max_index()
        root = etree.Element("domain", type="vmware")
        config_version = conf.long("config.version", 0, optional=False)
        if config_version != 8:
            raise vmx_error(f"Expecting VMX entry 'config.version' to be 8 but found {config_version}")
        hw_version = conf.long("virtualHW.version", 0, optional=False)
        if hw_version < 4:
            raise vmx_error(f"Expecting VMX entry 'virtualHW.version' to be 4 or higher but found {hw_version}")
        if hw_version >= 13:
            self.scsi_max_unit = SCSI_SUPER_WIDE_MAX_UNIT
        uuid_text = conf.string("uuid.bios")
        uuid = "00000000-0000-0000-0000-000000000000"
        if uuid_text is not None:
            parsed = parse_uuid(uuid_text)
            if parsed is None:
                raise vmx_error(f"Could not parse UUID from string '{uuid_text}'")
            uuid = parsed
        name = conf.string("displayName")
        if name is not None:
            name = unescape_hex(unescape_hex(name, "%", "name"), "|", "name")
            _sub(root, "name", name)
        _sub(root, "uuid", uuid)
        self._genid(root)
        annotation = conf.string("annotation")
        if annotation is not None:
            _sub(root, "description", unescape_hex(annotation, "|", "annotation"))
        self._memory(root)
        self._vcpus(root)
        _sub(root, "on_poweroff", "destroy")
        _sub(root, "on_reboot", "restart")
        _sub(root, "on_crash", "destroy")
        os_elem = _sub(root, "os")
        guest_os = conf.string("guestOS")
        arch = "x86_64" if guest_os is not None and guest_os.endswith("-64") else "i686"
        _sub(os_elem, "type", "hvm", arch=arch)
        if conf.boolean("smbios.reflecthost", False):
            _sub(os_elem, "smbios", mode="host")
        _sub(root, "clock", offset="utc")
        devices = _sub(root, "devices")
        graphics = self._vnc()
        disks, controllers = DiskReader(self.conf, self.parse_file_name, self.scsi_max_unit).read()
        for disk in disks:
            devices.append(disk.element())
        for ctype, index, model in controllers:
            ctrl = _sub(devices, "controller", type=ctype, index=str(index))
            if model:
                ctrl.set("model", model)
        self._filesystems(devices)
        for i in range(networks_max + 1):
            net = self._ethernet(i)
            if net is not None:
                devices.append(net)
        serials = [s for s in (self._serial(p) for p in range(4)) if s is not None]
        for serial in serials:
            devices.append(serial)
        for port in range(3):
            parallel = self._parallel(port)
            if parallel is not None:
                devices.append(parallel)
        if serials:  # virDomainDefAddConsoleCompat: the first serial port is the console
            console = etree.fromstring(etree.tostring(serials[0]))
            console.tag = "console"
            target = console.find("target")
            if target is not None:
                target.set("type", "serial")
                serial_port = str(target.attrib.pop("port"))
                target.set("port", serial_port)  # after type, in libvirt's attribute order
            devices.append(console)
        if graphics is not None:
            devices.append(graphics)
        self._svga(devices)
        firmware = conf.string("firmware")
        if firmware is not None:
            if firmware != "efi":
                raise vmx_error(f"VMX entry 'firmware' has unknown value '{firmware}'")
            os_elem.set("firmware", "efi")
        return root

    def _networks_max_index(self) -> int:
        """virVMXConfigScanResultsCollector: the highest ``ethernetN.`` index among all keys."""
        highest = -1
        for key, _ in self.conf.entries:
            if key[:8].lower() != "ethernet":
                continue
            digits = key[8:].split(".", 1)
            number = digits[0]
            sign = number[:1] if number[:1] in "+-" else ""
            body = number[len(sign) :]
            if len(digits) < 2 or not body.isascii() or not body.isdigit() or int(number) < 0:
                raise vmx_error(f"failed to parse the index of the VMX key '{key}'")
            highest = max(highest, int(number))
        return highest

    def _genid(self, root: etree._Element) -> None:
        first = self.conf.long("vm.genid", 0)
        second = self.conf.long("vm.genidX", 0)
        if first == 0 and second == 0:
            return
        text = f"{first & (2**64 - 1):016x}{second & (2**64 - 1):016x}"
        parsed = parse_uuid(text)
        if parsed is None:
            raise vmx_error(f"Could not parse UUID from string '{text}'")
        _sub(root, "genid", parsed)

    def _memory(self, root: etree._Element) -> None:
        conf = self.conf
        memsize = conf.long("memsize", 32)
        if memsize <= 0 or memsize % 4 != 0:
            raise vmx_error(
                f"Expecting VMX entry 'memsize' to be an unsigned integer (multiple of 4) but found {memsize}"
            )
        total = memsize * 1024
        mem_max = conf.long("sched.mem.max", memsize)
        if mem_max < 0:
            mem_max = memsize
        current = min(mem_max * 1024, total)
        minsize = max(conf.long("sched.mem.minsize", 0), 0)
        guarantee = min(minsize * 1024, total)
        _sub(root, "memory", str(total), unit="KiB")
        _sub(root, "currentMemory", str(current), unit="KiB")
        if guarantee > 0:
            _sub(_sub(root, "memtune"), "min_guarantee", str(guarantee), unit="KiB")

    def _vcpus(self, root: etree._Element) -> None:
        conf = self.conf
        numvcpus = conf.long("numvcpus", 1)
        if numvcpus <= 0:
            raise vmx_error(
                f"Expecting VMX entry 'numvcpus' to be an unsigned integer greater than 0 but found {numvcpus}"
            )
        vcpu = _sub(root, "vcpu", str(numvcpus), placement="static")
        cores = conf.long("cpuid.coresPerSocket", 1)
        if cores > 1:
            sockets = numvcpus // cores
            if sockets <= 0:
                raise vmx_error("VMX entry 'cpuid.coresPerSocket' smaller than 'numvcpus'")
            cpu = _sub(root, "cpu")
            _sub(cpu, "topology", sockets=str(sockets), dies="1", cores=str(cores), threads="1")
        affinity = conf.string("sched.cpu.affinity")
        if affinity is not None and affinity.lower() != "all":
            items = affinity.split(",")
            if len(items) < numvcpus:
                raise vmx_error(
                    f"Expecting VMX entry 'sched.cpu.affinity' to contain at least as many values as "
                    f"'numvcpus' ({numvcpus}) but found only {len(items)} value(s)"
                )
            cpus: set[int] = set()
            for item in items:
                text = item.strip(" \t\n\v\f\r")
                if not text.isascii() or not text.isdigit() or int(text) > 2**32 - 1:
                    raise vmx_error(
                        "Expecting VMX entry 'sched.cpu.affinity' to be a comma separated list of unsigned "
                        f"integers but found '{affinity}'"
                    )
                number = int(text)
                if number >= CPUMASK_LEN:
                    raise vmx_error(f"VMX entry 'sched.cpu.affinity' contains a {number}, this value is too large")
                cpus.add(number)
            vcpu.set("cpuset", _format_cpuset(cpus))
        shares_text = conf.string("sched.cpu.shares")
        if shares_text is not None:
            named = {"low": 500, "normal": 1000, "high": 2000}
            if shares_text.lower() in named:
                shares = numvcpus * named[shares_text.lower()]
            else:
                stripped = shares_text.strip(" \t\n\v\f\r")
                if not stripped.isascii() or not stripped.isdigit():
                    raise vmx_error(
                        "Expecting VMX entry 'sched.cpu.shares' to be an unsigned integer or 'low', 'normal' or "
                        f"'high' but found '{shares_text}'"
                    )
                shares = int(stripped)
            _sub(_sub(root, "cputune"), "shares", str(shares))

    # ---- devices ---------------------------------------------------------------------------------------------
    def _vnc(self) -> etree._Element | None:
        conf = self.conf
        if not conf.boolean("RemoteDisplay.vnc.enabled", False):
            return None
        port = conf.long("RemoteDisplay.vnc.port", -1)
        listen = conf.string("RemoteDisplay.vnc.ip")
        keymap = conf.string("RemoteDisplay.vnc.keymap")
        passwd = conf.string("RemoteDisplay.vnc.password")
        graphics = etree.Element("graphics", type="vnc")
        if port < 0:
            graphics.set("port", "-1")
            graphics.set("autoport", "yes")
        else:
            graphics.set("port", str(port))
            graphics.set("autoport", "no")
        if keymap is not None:
            graphics.set("keymap", keymap)
        if passwd is not None:
            graphics.set("passwd", passwd)
        if listen is not None:
            graphics.set("listen", listen)
            _sub(graphics, "listen", type="address", address=listen)
        else:
            _sub(graphics, "listen", type="address")
        return graphics

    def _filesystems(self, devices: etree._Element) -> None:
        conf = self.conf
        if conf.boolean("isolation.tools.hgfs.disable", True):
            return
        for number in range(max(conf.long("sharedFolder.maxNum", 0), 0)):
            prefix = f"sharedFolder{number}"
            if not (conf.boolean(f"{prefix}.present", False) and conf.boolean(f"{prefix}.enabled", False)):
                continue
            host_path = conf.string(f"{prefix}.hostPath", optional=False)
            guest_name = conf.string(f"{prefix}.guestName", optional=False)
            write_access = conf.boolean(f"{prefix}.writeAccess", False)
            fs = _sub(devices, "filesystem", type="mount", accessmode="passthrough")
            _sub(fs, "source", dir=host_path or "")
            _sub(fs, "target", dir=guest_name or "")
            if not write_access:
                _sub(fs, "readonly")

    def _ethernet(self, index: int) -> etree._Element | None:
        conf = self.conf
        prefix = f"ethernet{index}"
        if not conf.boolean(f"{prefix}.present", False):
            return None
        conf.boolean(f"{prefix}.startConnected", True)
        connection_type = conf.string(f"{prefix}.connectionType")
        address_type = conf.string(f"{prefix}.addressType")
        generated = conf.string(f"{prefix}.generatedAddress")
        address = conf.string(f"{prefix}.address")
        check_mac = conf.string(f"{prefix}.checkMACAddress")
        mac: bytes | None = None
        mac_type: str | None = None
        if address_type is None or address_type.lower() in ("generated", "vpx"):
            if generated is not None:
                mac = parse_mac(generated)
                if mac is None:
                    raise vmx_error(
                        f"Expecting VMX entry '{prefix}.generatedAddress' to be MAC address but found '{generated}'"
                    )
            if address_type is not None:
                mac_type = "generated"
        elif address_type.lower() == "static":
            if address is not None:
                mac = parse_mac(address)
                if mac is None:
                    raise vmx_error(f"Expecting VMX entry '{prefix}.address' to be MAC address but found '{address}'")
            mac_type = "static"
        else:
            raise vmx_error(
                f"Expecting VMX entry '{prefix}.addressType' to be 'generated' or 'static' or 'vpx' but found "
                f"'{address_type}'"
            )
        virtual_dev = conf.string(f"{prefix}.virtualDev")
        features = conf.long(f"{prefix}.features", 0)
        model: str | None = None
        if virtual_dev is not None:
            model = NET_MODELS.get(virtual_dev.lower())
            if model is None:
                raise vmx_error(
                    f"Expecting VMX entry '{prefix}.virtualDev' to be 'vlance' or 'vmxnet' or 'vmxnet3' or "
                    f"'e1000' or 'e1000e' but found '{virtual_dev}'"
                )
            if model == "vmxnet" and features == 15:
                model = "vmxnet2"
        ctype = connection_type.lower() if connection_type is not None else None
        network_name: str | None = None
        vnet: str | None = None
        if ctype in (None, "bridged", "custom"):
            network_name = conf.string(f"{prefix}.networkName", optional=ctype is None)
        if ctype == "custom":
            vnet = conf.string(f"{prefix}.vnet", optional=False)
        switch_id = conf.string(f"{prefix}.dvs.switchId")
        iface = etree.Element("interface")
        source: dict[str, str] = {}
        if switch_id is not None:
            switch_uuid = parse_uuid(switch_id)
            if switch_uuid is None:
                raise vmx_error(f"Could not parse UUID from string '{switch_id}'")
            portgroup = conf.string(f"{prefix}.dvs.portgroupId", optional=False) or ""
            port_id = conf.long(f"{prefix}.dvs.portId", 0, optional=False)
            connection_id = conf.long(f"{prefix}.dvs.connectionId", 0, optional=False)
            iface.set("type", "vds")
            source = {"switchid": switch_uuid, "portid": str(port_id), "portgroupid": portgroup,
                      "connectionid": str(connection_id)}  # fmt: skip
        elif ctype is None and network_name is None:
            iface.set("type", "null")
        elif ctype in (None, "bridged", "custom"):
            iface.set("type", "bridge")
            source = {"bridge": network_name or ""}
        elif ctype == "hostonly":
            raise vmx_error(f"No yet handled value '{connection_type}' for VMX entry '{prefix}.connectionType'")
        elif ctype == "nat":
            iface.set("type", "user")
        else:
            raise vmx_error(f"Invalid value '{connection_type}' for VMX entry '{prefix}.connectionType'")
        if mac is not None:
            mac_elem = _sub(iface, "mac", address=format_mac(mac))
            if mac_type:
                mac_elem.set("type", mac_type)
            if check_mac is not None:
                mac_elem.set("check", "yes" if check_mac == "true" else "no")
        if source:
            _sub(iface, "source", **source)
        if vnet is not None:
            _sub(iface, "target", dev=vnet)
        if model is not None:
            _sub(iface, "model", type=model)
        return iface

    def _serial(self, port: int) -> etree._Element | None:
        conf = self.conf
        prefix = f"serial{port}"
        if not conf.boolean(f"{prefix}.present", False):
            return None
        conf.boolean(f"{prefix}.startConnected", True)
        file_type = conf.string(f"{prefix}.fileType")
        file_name = conf.string(f"{prefix}.fileName")
        end_point = conf.string(f"{prefix}.network.endPoint")
        serial = etree.Element("serial")
        ftype = file_type.lower() if file_type is not None else "device"
        if ftype in ("device", "file", "pipe"):
            serial.set("type", {"device": "dev", "file": "file", "pipe": "pipe"}[ftype])
            path = file_name
            if ftype == "file":
                if file_name is None:
                    raise vmx_error(f"Missing essential config entry '{prefix}.fileName'")
                path = self.parse_file_name(file_name, False)
            source = _sub(serial, "source")
            if path is not None:
                source.set("path", path)
        elif ftype == "network":
            serial.set("type", "tcp")
            scheme, host, service = _network_uri(file_name or "", f"{prefix}.fileName")
            protocols = {"tcp": "raw", "tcp4": "raw", "tcp6": "raw", "telnet": "telnet", "telnets": "telnets",
                         "ssl": "tls", "tcp+ssl": "tls", "tcp4+ssl": "tls", "tcp6+ssl": "tls"}  # fmt: skip
            protocol = "raw" if scheme is None else protocols.get(scheme.lower())
            if protocol is None:
                raise vmx_error(f"VMX entry '{prefix}.fileName' contains unsupported scheme '{scheme}'")
            if end_point is None or end_point.lower() == "server":
                mode = "bind"
            elif end_point.lower() == "client":
                mode = "connect"
            else:
                raise vmx_error(
                    f"Expecting VMX entry '{prefix}.network.endPoint' to be 'server' or 'client' but found "
                    f"'{end_point}'"
                )
            _sub(serial, "source", mode=mode, host=host, service=service)
            _sub(serial, "protocol", type=protocol)
        else:
            raise vmx_error(
                f"Expecting VMX entry '{prefix}.fileType' to be 'device', 'file' or 'pipe' or 'network' but "
                f"found '{file_type}'"
            )
        _sub(serial, "target", port=str(port))
        return serial

    def _parallel(self, port: int) -> etree._Element | None:
        conf = self.conf
        prefix = f"parallel{port}"
        if not conf.boolean(f"{prefix}.present", False):
            return None
        conf.boolean(f"{prefix}.startConnected", True)
        file_type = conf.string(f"{prefix}.fileType", optional=False) or ""
        file_name = conf.string(f"{prefix}.fileName", optional=False) or ""
        parallel = etree.Element("parallel")
        if file_type.lower() == "device":
            parallel.set("type", "dev")
            _sub(parallel, "source", path=file_name)
        elif file_type.lower() == "file":
            parallel.set("type", "file")
            path = self.parse_file_name(file_name, False)
            source = _sub(parallel, "source")
            if path is not None:
                source.set("path", path)
        else:
            raise vmx_error(f"Expecting VMX entry '{prefix}.fileType' to be 'device' or 'file' but found '{file_type}'")
        _sub(parallel, "target", port=str(port))
        return parallel

    def _svga(self, devices: etree._Element) -> None:
        vram = self.conf.long("svga.vramSize", 4 * 1024 * 1024)
        video = _sub(devices, "video")
        _sub(video, "model", type="vmvga", vram=str(-(-vram // 1024)), primary="yes")


def _network_uri(text: str, key: str) -> tuple[str | None, str, str]:
    """What virURIParse gives libvirt for ``tcp://host:port``: scheme, host, port (the port is required)."""
    scheme: str | None = None
    rest = text
    if "://" in text:
        scheme, rest = text.split("://", 1)
    rest = rest.split("/", 1)[0]
    host, _, port = rest.rpartition(":") if ":" in rest else (rest, "", "")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not port.isascii() or not port.isdigit() or int(port) == 0:
        raise vmx_error(f"VMX entry '{key}' doesn't contain a port part")
    return scheme, host, str(int(port))


def _format_cpuset(cpus: set[int]) -> str:
    """virBitmapFormat: ranges joined by commas (``0-2,5-7``)."""
    ordered = sorted(cpus)
    parts: list[str] = []
    start = prev = ordered[0]
    for cpu in [*ordered[1:], -2]:
        if cpu == prev + 1:
            prev = cpu
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = cpu
    return ",".join(parts)


def vmx_to_domain(vmx: str | bytes, ctx: VmxContext) -> Domain:
    """Convert a VMX file's text into the domain model (libvirt's virVMXParseConfig)."""
    root = _Converter(ctx, decode_vmx(vmx)).convert()
    try:
        dom = parse_model(Domain, root)
    except Error as err:
        # the VMX entries above are converted to values the model carries; anything else is a gap, said as one
        raise vmx_unsupported(f"the converted VMX cannot be represented: {err.message}") from err
    return dom


def vmx_to_xml(vmx: str | bytes, ctx: VmxContext) -> str:
    """Convert a VMX file's text into domain XML, with passwords, as libvirt's test and driver format it."""
    return with_vmware_metadata(format_domain(vmx_to_domain(vmx, ctx), VIR_DOMAIN_XML_SECURE), ctx)


def with_vmware_metadata(xml: str, ctx: VmxContext) -> str:
    """The ``vmware`` namespace's elements libvirt ends the XML with: where the VM lives (datacenter, moref)."""
    extra = []
    if ctx.datacenter_path is not None:
        extra.append(f"  <vmware:datacenterpath>{_escape(ctx.datacenter_path)}</vmware:datacenterpath>\n")
    if ctx.moref is not None:
        extra.append(f"  <vmware:moref>{_escape(ctx.moref)}</vmware:moref>\n")
    if extra:
        head, _, tail = xml.partition(">")
        body, _, end = tail.rpartition("</domain>")
        xml = f"{head} xmlns:vmware='{VMWARE_NS}'>{body}{''.join(extra)}</domain>{end}"
    return xml


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
