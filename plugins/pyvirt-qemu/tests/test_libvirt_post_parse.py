"""What libvirt's QEMU driver fills into the XML virt-install sends, checked against libvirt's own data.

virt-install gives an i440fx guest an ICH9 EHCI and three UHCI companions
with neither index nor address. libvirt's parser puts them on one bus (index
0: virDomainAssignControllerIndexes), orders controllers as it inserts them,
gives each companion its start port, and its address assignment puts the four
on one multifunction slot (EHCI at function 7). libvirt 9.0's qemuxml2xml and
qemuxml2argv data for ``usb-ich9-*`` are the expected answers. Then the CPU
(passthrough migratable, a default model), the canonical machine type, and
the capabilities virt-install picks its defaults from.
"""

from __future__ import annotations

import importlib.util
import json
import shlex
import sys
from pathlib import Path
from types import ModuleType

import pytest
from lxml import etree
from pyvirt_qemu.cpu_flags import cpu_argument
from pyvirt_qemu.domain_defaults import apply_defaults

import pyvirt
from pyvirt.conf.domain import format_domain, parse_domain
from pyvirt.conf.xml_compare import canonical


def _conformance() -> ModuleType:
    """The report script beside this file, registered under its name first: its dataclasses look their
    module up in sys.modules (test_libvirt_corpora imports the same module by that name)."""
    if "conformance_argv" in sys.modules:
        return sys.modules["conformance_argv"]
    spec = importlib.util.spec_from_file_location("conformance_argv", Path(__file__).parent / "conformance_argv.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


conformance = _conformance()


@pytest.fixture(scope="module")
def libvirt_tests() -> Path:
    tree = conformance.source_tree()
    if tree is None:
        pytest.skip("libvirt 9.0.0's source (pyvirt.testing.sources) is unavailable")
    return Path(tree) / "tests"


def guest(devices: str, cpu: str = "", virt: str = "kvm") -> str:
    return f"""<domain type='{virt}'><name>g</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os>{cpu}<devices>{devices}</devices></domain>"""


VIRT_INSTALL_USB2 = """<controller type='usb' model='ich9-ehci1'/>
<controller type='usb' model='ich9-uhci1'><master startport='0'/></controller>
<controller type='usb' model='ich9-uhci2'><master startport='2'/></controller>
<controller type='usb' model='ich9-uhci3'><master startport='4'/></controller>"""


def usb(dom: str) -> list[tuple[str | None, int | None, str | None]]:
    d = parse_domain(dom).devices
    assert d is not None
    return [(c.model, c.index, None if c.address is None else c.address.attrs.get("function"))
            for c in d.controllers if c.type == "usb"]  # fmt: skip


def test_unindexed_companions_join_the_ehci_before_them() -> None:
    """Before: indexes 0, 1, 2, 3, so each UHCI named a master bus (usb1.0, ...) that did not exist."""
    assert usb(guest(VIRT_INSTALL_USB2)) == [("ich9-ehci1", 0, None), ("ich9-uhci1", 0, None),
                                              ("ich9-uhci2", 0, None), ("ich9-uhci3", 0, None)]  # fmt: skip
    # a second set starts a second bus; a UHCI1 already on the previous bus does not join it twice
    assert [i for _, i, _ in usb(guest(VIRT_INSTALL_USB2 * 2))] == [0, 0, 0, 0, 1, 1, 1, 1]
    # a USB1 controller breaks the chain
    mixed = "<controller type='usb' model='piix3-uhci'/><controller type='usb' model='ich9-uhci1'/>"
    assert [i for _, i, _ in usb(guest(mixed))] == [0, 1]


def test_ich9_controllers_as_libvirt_orders_and_places_them(libvirt_tests: Path) -> None:
    """libvirt's usb-ich9-ehci-addr: three sets given out of order, companions without <master>."""
    xml = (libvirt_tests / "qemuxml2argvdata" / "usb-ich9-ehci-addr.xml").read_bytes()
    want = (libvirt_tests / "qemuxml2xmloutdata" / "usb-ich9-ehci-addr.xml").read_bytes()
    assert canonical(format_domain(apply_defaults(parse_domain(xml)), 2)) == canonical(want)


def _legacy_device(props: dict[str, object]) -> str:
    """A JSON -device as libvirt's older key=value syntax, which the non-latest .args files use."""
    values = [str(props["driver"])]
    for key, value in props.items():
        if key != "driver":
            values.append(f"{key}={'on' if value is True else value}")
    return ",".join(values)


@pytest.mark.parametrize("case", ["usb-ich9-ehci-addr", "usb-ich9-companion"])
def test_ich9_controllers_reach_qemu_as_libvirt_writes_them(libvirt_tests: Path, case: str) -> None:
    """Before: the UHCIs of virt-install's XML were each on their own slot and master bus."""
    data = libvirt_tests / "qemuxml2argvdata"
    words = shlex.split((data / f"{case}.args").read_text().replace("\\\n", " "))
    want = [words[i + 1] for i, w in enumerate(words[:-1]) if w == "-device" and words[i + 1].startswith("ich9-usb-")]
    argv = conformance.argv_for(data / f"{case}.xml")
    got = [_legacy_device(json.loads(argv[i + 1])) for i, w in enumerate(argv[:-1])
           if w == "-device" and argv[i + 1].startswith('{"driver":"ich9-usb-')]  # fmt: skip
    assert got == want and len(want) >= 4


def test_passed_through_cpu_is_migratable_and_unchecked() -> None:
    """libvirt's CPU post-parse: what virt-install's <cpu mode='host-passthrough'/> becomes, and QEMU's -cpu."""
    dom = apply_defaults(parse_domain(guest("", "<cpu mode='host-passthrough'/>")))
    assert dom.cpu is not None and (dom.cpu.migratable, dom.cpu.check) == (True, "none")
    assert cpu_argument(dom) == "host,migratable=on"
    # before: 'off' was ignored and the guest got a migratable CPU anyway
    off = apply_defaults(parse_domain(guest("", "<cpu mode='host-passthrough' migratable='off'/>")))
    assert cpu_argument(off) == "host,migratable=off"
    # before: mode='maximum' silently became QEMU's default qemu64
    maximum = apply_defaults(parse_domain(guest("", "<cpu mode='maximum' migratable='on'/>", virt="qemu")))
    assert maximum.cpu is not None and maximum.cpu.check == "none"
    assert cpu_argument(maximum) == "max,migratable=on"
    tcg_model = apply_defaults(parse_domain(guest("", "<cpu><model>qemu64</model></cpu>", virt="qemu")))
    assert tcg_model.cpu is not None and tcg_model.cpu.check == "none"


def test_implicit_controllers_in_libvirts_order() -> None:
    """The machine's controllers come before the IDE one a disk implies, as libvirt adds them."""
    dom = apply_defaults(parse_domain(guest(
        "<disk type='file' device='disk'><source file='/x.qcow2'/><target dev='hda' bus='ide'/></disk>"
        "<video><model type='virtio'/></video>")))  # fmt: skip
    assert dom.devices is not None
    assert [c.type for c in dom.devices.controllers] == ["usb", "pci", "ide"]
    assert dom.devices.videos[0].model_heads == 1  # libvirt formats heads='1' for every video but 'none'


def test_capabilities_list_the_default_machine_first_and_acpi(conn: pyvirt.Connection, virt_type: str) -> None:
    """virt-install takes the first machine listed and adds <acpi/> and <apic/> only when the guest features say so.

    Before: 'isapc' came first (alphabetical), so virt-install made ISA guests without a PCI bus.
    """
    caps = etree.fromstring(conn.get_capabilities().encode())
    guest64 = next(g for g in caps.findall("guest") if g.find("arch").get("name") == "x86_64")  # type: ignore[union-attr]
    first = guest64.find("arch/machine")
    assert first is not None and first.text is not None and first.text.startswith("pc-i440fx-")
    second = guest64.findall("arch/machine")[1]
    assert (second.text, second.get("canonical")) == ("pc", first.text)
    features = {f.tag: (f.get("default"), f.get("toggle")) for f in guest64.find("features")}  # type: ignore[union-attr]
    assert features["acpi"] == ("on", "yes") and features["apic"] == ("on", "no")
    dc = etree.fromstring(conn.get_domain_capabilities(virttype=virt_type).encode())
    assert dc.xpath("cpu/mode[@name='maximum']/@supported") == ["yes"]
    if virt_type == "kvm":  # virt-install picks host-passthrough only when it may be migratable
        assert dc.xpath("cpu/mode[@name='host-passthrough']/enum/value/text()") == ["on", "off"]


@pytest.mark.parametrize("machine", ["q35", "pc", None])
def test_defined_machine_is_the_canonical_type(conn: pyvirt.Connection, machine: str | None) -> None:
    """libvirt stores what an alias stands for today (virt-install writes machine='q35'), or the default machine.

    Before: 'q35' stayed 'q35', so the guest's hardware would change under it with the next QEMU.
    """
    caps = etree.fromstring(conn.get_capabilities().encode())
    guest64 = next(g for g in caps.findall("guest") if g.find("arch[@name='x86_64']") is not None)
    aliases = {m.text: m.get("canonical") for m in guest64.findall("arch/machine[@canonical]")}
    xml = guest("").replace(" machine='pc'", "" if machine is None else f" machine='{machine}'")
    dom = conn.define_domain(xml)
    try:
        got = etree.fromstring(dom.xml_desc().encode()).find("os/type")
        assert got is not None and got.get("machine") == aliases[machine or "pc"]
    finally:
        dom.undefine()


@pytest.mark.parametrize("cpu", ["", "<cpu><topology sockets='1' dies='1' cores='1' threads='1'/></cpu>"])
def test_guest_without_a_cpu_model_shows_qemus_default(conn: pyvirt.Connection, virt_type: str, cpu: str) -> None:
    """libvirt 9.0 (qemuDomainDefSetDefaultCPU) writes the model QEMU gives the machine, as its
    controller-usb-order output shows; the guest still gets ``-cpu qemu64``."""
    dom = conn.define_domain(guest("", cpu, virt=virt_type))
    try:
        got = etree.fromstring(dom.xml_desc().encode()).find("cpu")
        assert got is not None
        assert (got.get("mode"), got.get("match"), got.get("check")) == ("custom", "exact", "none")
        model = got.find("model")
        assert model is not None and (model.text, model.get("fallback")) == ("qemu64", "forbid")
        assert (got.find("topology") is not None) == bool(cpu)
    finally:
        dom.undefine()
