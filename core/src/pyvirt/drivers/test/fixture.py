"""The state a ``test:///`` connection starts from.

``test:///default`` starts from libvirt's default fixture (same objects,
names, UUIDs and figures, so scripts written against libvirt's test driver
see the same world). ``test:///ABSOLUTE/PATH.xml`` starts from a ``<node>``
file in libvirt's format: inline objects or ``file=`` references relative to
the node file, ``<cpu>``/``<memory>`` node figures, and the test namespace
(``test:runstate``, ``test:transient``, ``test:hasmanagedsave``) on domains.
"""

from __future__ import annotations

import os
from xml.parsers import expat

# the exception classes through the module: pyvirt.errors makes each when first named (~110k instructions),
# so a module-level ``from pyvirt.errors import NotFoundError`` would make every one on each test:/// open
import pyvirt.errors as _errors
from pyvirt.conf.identity import check_name, normalize_uuid
from pyvirt.errors import ErrorCode
from pyvirt.plugin.records import NodeInfo
from pyvirt.util.fileio import read_limited

TYPE_CHECKING = False  # not typing's: importing typing costs every short pyvirsh run on test:///
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from lxml import etree

__all__ = [
    "DEFAULT_NODE_INFO",
    "FixtureObject",
    "NodeFixture",
    "default_fixture",
    "device_identity",
    "domain_identity",
    "interface_identity",
    "load_fixture",
    "network_bridge_name",
]

TEST_NS = "http://libvirt.org/schemas/domain/test"

DEFAULT_NODE_INFO = NodeInfo(model="i686", memory_kib=3 * 1024 * 1024, cpus=16, mhz=1400, nodes=2,
                             sockets=2, cores=2, threads=2)  # fmt: skip

# libvirt's test driver keeps its default objects as separate documents (testdriver.c's
# defaultDomainXML, defaultNetworkXML ...); so do we, so the default state is built without
# splitting a node document.
DEFAULT_DOMAIN_XML = """<domain type='test'>
  <name>test</name>
  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
  <memory>8388608</memory>
  <currentMemory>2097152</currentMemory>
  <vcpu>2</vcpu>
  <os><type>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <source file='/guest/diskimage1'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </disk>
    <interface type='network'>
      <mac address='aa:bb:cc:dd:ee:ff'/>
      <source network='default' bridge='virbr0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x1' function='0x0'/>
    </interface>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x2' function='0x0'/>
    </memballoon>
  </devices>
</domain>
"""

DEFAULT_NETWORK_XML = """<network>
  <name>default</name>
  <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>
  <bridge name='virbr0'/>
  <forward/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp><range start='192.168.122.2' end='192.168.122.254'/></dhcp>
  </ip>
</network>
"""

DEFAULT_INTERFACE_XML = """<interface type="ethernet" name="eth1">
  <start mode="onboot"/>
  <mac address="aa:bb:cc:dd:ee:ff"/>
  <mtu size="1492"/>
  <protocol family="ipv4">
    <ip address="192.168.0.5" prefix="24"/>
    <route gateway="192.168.0.1"/>
  </protocol>
</interface>
"""

DEFAULT_POOL_XML = """<pool type='dir'>
  <name>default-pool</name>
  <uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid>
  <target><path>/default-pool</path></target>
</pool>
"""

# The node devices, in the order libvirt's defaultNodeXML lists them. Its vport_ops say 127 and 1 (or 0),
# but libvirt's parser never reads them (they come from sysfs on a real host), so its test driver shows 0
# and 0: so are they written here.
DEFAULT_DEVICE_XMLS = (
    """<device>
  <name>computer</name>
  <capability type='system'>
    <hardware>
      <vendor>Libvirt</vendor>
      <version>Test driver</version>
      <serial>123456</serial>
      <uuid>11111111-2222-3333-4444-555555555555</uuid>
    </hardware>
    <firmware>
      <vendor>Libvirt</vendor>
      <version>Test Driver</version>
      <release_date>01/22/2007</release_date>
    </firmware>
  </capability>
</device>
""",
    """<device>
  <name>scsi_host1</name>
  <parent>computer</parent>
  <capability type='scsi_host'>
    <host>1</host>
    <unique_id>0</unique_id>
    <capability type='fc_host'>
      <wwnn>2000000012341234</wwnn>
      <wwpn>1000000012341234</wwpn>
      <fabric_wwn>2000000043214321</fabric_wwn>
    </capability>
    <capability type='vport_ops'>
      <max_vports>0</max_vports>
      <vports>0</vports>
    </capability>
  </capability>
</device>
""",
    """<device>
  <name>scsi_host2</name>
  <parent>computer</parent>
  <capability type='scsi_host'>
    <host>2</host>
    <unique_id>1</unique_id>
    <capability type='fc_host'>
      <wwnn>2000000056785678</wwnn>
      <wwpn>1000000056785678</wwpn>
      <fabric_wwn>2000000087658765</fabric_wwn>
    </capability>
    <capability type='vport_ops'>
      <max_vports>0</max_vports>
      <vports>0</vports>
    </capability>
  </capability>
</device>
""",
    """<device>
  <name>scsi_host11</name>
  <parent>scsi_host1</parent>
  <capability type='scsi_host'>
    <host>11</host>
    <unique_id>10</unique_id>
    <capability type='fc_host'>
      <wwnn>2000000034563456</wwnn>
      <wwpn>1000000034563456</wwpn>
      <fabric_wwn>2000000043214321</fabric_wwn>
    </capability>
  </capability>
</device>
""",
)


class FixtureObject:
    """One object of the node file: its XML text plus test-namespace extras (a plain class: see state.py)."""

    def __init__(self, xml: str, volumes: list[str] | None = None) -> None:
        self.xml = xml
        self.runstate: int | None = None
        self.transient = False
        self.managed_save = False
        self.volumes = volumes if volumes is not None else []


class NodeFixture:
    def __init__(
        self,
        node_info: NodeInfo,
        domains: list[FixtureObject] | None = None,
        networks: list[FixtureObject] | None = None,
        interfaces: list[FixtureObject] | None = None,
        pools: list[FixtureObject] | None = None,
        devices: list[FixtureObject] | None = None,
    ) -> None:
        self.node_info = node_info
        self.domains = domains or []
        self.networks = networks or []
        self.interfaces = interfaces or []
        self.pools = pools or []
        self.devices = devices or []


def _inline_or_file(elem: etree._Element, base: str, root: str) -> etree._Element:
    from pyvirt.conf.xmlparse import parse_xml

    ref = elem.get("file")
    if ref is None:
        return elem
    path = ref if os.path.isabs(ref) else os.path.join(base, ref)
    try:
        with open(path, "rb") as f:
            return parse_xml(read_limited(f, path), root, path)
    except OSError as exc:
        raise _errors.OperationFailedError(ErrorCode.OPEN_FAILED, path) from exc


def _text(elem: etree._Element) -> str:
    from lxml import etree

    copy = etree.fromstring(etree.tostring(elem))
    for child in list(copy):
        if isinstance(child.tag, str) and child.tag.startswith(f"{{{TEST_NS}}}"):
            copy.remove(child)
    etree.cleanup_namespaces(copy)
    return etree.tostring(copy, encoding="unicode")


_RUNSTATES = {"nostate": 0, "running": 1, "blocked": 2, "paused": 3, "shutdown": 4, "shutoff": 5, "crashed": 6,
              "pmsuspended": 7}  # fmt: skip


def _node_info(root: etree._Element) -> NodeInfo:
    from pyvirt.conf.xmlparse import find_one

    info = DEFAULT_NODE_INFO
    cpu = find_one(root, "cpu")
    values: dict[str, Any] = {
        "model": info.model, "memory_kib": info.memory_kib, "cpus": info.cpus, "mhz": info.mhz,
        "nodes": info.nodes, "sockets": info.sockets, "cores": info.cores, "threads": info.threads,
    }  # fmt: skip
    if cpu is not None:
        for key in ("nodes", "sockets", "cores", "threads", "mhz"):
            el = find_one(cpu, key)
            if el is not None and el.text:
                values[key] = int(el.text)
        active = find_one(cpu, "active")
        values["cpus"] = (
            int(active.text) if active is not None and active.text
            else int(values["nodes"]) * int(values["sockets"]) * int(values["cores"]) * int(values["threads"])
        )  # fmt: skip
        model = find_one(cpu, "model")
        if model is not None and model.text:
            values["model"] = model.text.strip()
    mem = find_one(root, "memory")
    if mem is not None and mem.text:
        values["memory_kib"] = int(mem.text)
    return NodeInfo(**values)


def _parse_node(data: bytes, path: str) -> NodeFixture:
    from pyvirt.conf.xmlparse import find_all, find_one, parse_xml

    root = parse_xml(data, "node", path)
    base = os.path.dirname(path)
    fx = NodeFixture(node_info=_node_info(root))
    for elem in find_all(root, "domain"):
        dom = _inline_or_file(elem, base, "domain")
        obj = FixtureObject(_text(dom))
        state = find_one(dom, f"{{{TEST_NS}}}runstate")
        if state is not None and state.text:
            obj.runstate = int(state.text) if state.text.strip().isdigit() else _RUNSTATES[state.text.strip()]
        obj.transient = find_one(dom, f"{{{TEST_NS}}}transient") is not None
        obj.managed_save = find_one(dom, f"{{{TEST_NS}}}hasmanagedsave") is not None
        fx.domains.append(obj)
    for tag, bucket in (("network", fx.networks), ("interface", fx.interfaces), ("device", fx.devices)):
        for elem in find_all(root, tag):
            bucket.append(FixtureObject(_text(_inline_or_file(elem, base, tag))))
    for elem in find_all(root, "pool"):
        pool = _inline_or_file(elem, base, "pool")
        vols = [_text(_inline_or_file(v, base, "volume")) for v in find_all(pool, "volume")]
        for v in find_all(pool, "volume"):
            pool.remove(v)
        fx.pools.append(FixtureObject(_text(pool), volumes=vols))
    return fx


def default_fixture() -> NodeFixture:
    """libvirt's default objects, unparsed: the state parses each one when it is first needed."""
    return NodeFixture(
        node_info=DEFAULT_NODE_INFO,
        domains=[FixtureObject(DEFAULT_DOMAIN_XML)],
        networks=[FixtureObject(DEFAULT_NETWORK_XML)],
        interfaces=[FixtureObject(DEFAULT_INTERFACE_XML)],
        pools=[FixtureObject(DEFAULT_POOL_XML)],
        devices=[FixtureObject(xml) for xml in DEFAULT_DEVICE_XMLS],
    )


def _top_level(xml: str) -> dict[str, str]:
    """The root's attributes (``@attr``), and each top-level child's text (``tag``) and attributes
    (``tag@attr``), read with the standard library's expat (C, no lxml and no models).

    Only for documents pyvirt itself ships; a document type declaration, where
    entities would be declared, is refused all the same, so nothing is expanded.
    """
    found: dict[str, str] = {}
    path: list[str] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        path.append(tag)
        if len(path) <= 2:
            prefix = "" if len(path) == 1 else tag
            for key, value in attrs.items():
                found.setdefault(f"{prefix}@{key}", value)

    def end(_tag: str) -> None:
        path.pop()

    def text(data: str) -> None:
        if len(path) == 2:
            found[path[1]] = found.get(path[1], "") + data

    _read(xml, start, end, text)
    return found


def _refuse_doctype(*_args: object) -> None:
    raise ValueError("a built-in fixture document must not declare a document type")


def _read(
    xml: str, start: Callable[[str, dict[str, str]], None], end: Callable[[str], None], text: Callable[[str], None]
) -> None:
    parser = expat.ParserCreate()
    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, text
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.Parse(xml, True)


def domain_identity(xml: str) -> tuple[str, str]:
    """(name, uuid) of a domain, network or pool document, read without the XML models.

    The test driver indexes its built-in objects by these before (and without)
    building their models; the full parse later reads the same two elements
    (core/tests/drivers/test_test_driver_startup.py checks that for every
    built-in document). It checks what the index needs (a name, a well-formed
    UUID), not the rest of the document.
    """
    found = _top_level(xml)
    return check_name(found.get("name", "").strip()), normalize_uuid(found.get("uuid", "").strip())


def network_bridge_name(xml: str) -> str:
    """A network document's ``<bridge name=...>`` (``net-info``'s Bridge line), read without the model."""
    return _top_level(xml).get("bridge@name", "")


def interface_identity(xml: str) -> tuple[str, str]:
    """(name, MAC address) of a host interface document (``<interface name=...><mac address=...>``)."""
    found = _top_level(xml)
    return found.get("@name", ""), found.get("mac@address", "")


def device_identity(xml: str) -> tuple[str, str, tuple[str, ...]]:
    """(name, parent, capability types at any depth) of a node device document, as
    ``NodeDevice.capability_types`` and ``parent`` read them, for listing without the model."""
    found = _top_level(xml)
    caps: list[str] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        if tag == "capability":
            caps.append(attrs.get("type", ""))

    _read(xml, start, lambda _tag: None, lambda _data: None)
    return found.get("name", "").strip(), found.get("parent", "").strip(), tuple(caps)


def load_fixture(path: str) -> NodeFixture:
    try:
        with open(path, "rb") as f:
            data = read_limited(f, path)
    except OSError as exc:
        raise _errors.OperationFailedError(ErrorCode.OPEN_FAILED, path) from exc
    return _parse_node(data, path)
