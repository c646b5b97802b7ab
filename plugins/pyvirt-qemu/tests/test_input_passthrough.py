"""Host input devices for the guest: ``<input type='passthrough' bus='virtio'>`` and ``<input type='evdev'>``.

Both were refused by name; libvirt makes the first a ``virtio-input-host-pci`` device and the second QEMU's
``input-linux`` object, both opening the host's evdev node. This
machine has no input devices, so the real start gives it a plain file: the driver labels it, QEMU takes the
device and names the node that is no input device, which is what a user with a wrong path sees.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyvirt_qemu.command_line import build_command_line
from pyvirt_qemu.domain_defaults import apply_defaults

import pyvirt
from pyvirt.conf.domain import parse_domain
from pyvirt.errors import Error

GUEST = """<domain type='{virt}'><name>evdev</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<input type='passthrough' bus='virtio'><source evdev='{evdev}'/></input>
<memballoon model='none'/></devices></domain>"""


def test_the_evdev_is_a_virtio_input_host_device() -> None:
    dom = apply_defaults(parse_domain(GUEST.format(virt="qemu", evdev="/dev/input/event3")))
    argv = build_command_line(dom, "/tmp/m.sock", hugepage_mounts=[], host_nodes={0}).argv
    device = next(json.loads(a) for a in argv if a.startswith('{"driver":"virtio-input-host-pci"'))
    assert device["evdev"] == "/dev/input/event3" and device["id"] == "input0"


def test_qemu_opens_the_evdev_node(conn: pyvirt.Connection, virt_type: str, tmp_path: Path) -> None:
    node = tmp_path / "event0"  # a file, not an input device: labelled, then refused by QEMU itself
    node.write_bytes(b"")
    dom = conn.define_domain(GUEST.format(virt=virt_type, evdev=node))
    with pytest.raises(Error) as err:
        dom.create()
    assert "virtio-input-host-pci" in str(err.value) and str(node) in str(err.value)
    assert not dom.is_active()


EVDEV = """<domain type='{virt}'><name>evdev2</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<input type='evdev'><source dev='{dev}' grab='all' grabToggle='alt-alt' repeat='on'/></input>
<memballoon model='none'/></devices></domain>"""


def test_an_evdev_input_is_qemus_input_linux_object(conn: pyvirt.Connection, virt_type: str, tmp_path: Path) -> None:
    node = tmp_path / "event1"
    node.write_bytes(b"")
    dom = apply_defaults(parse_domain(EVDEV.format(virt="qemu", dev=node)))
    argv = build_command_line(dom, "/tmp/m.sock", hugepage_mounts=[], host_nodes={0}).argv
    obj = next(json.loads(a) for a in argv if a.startswith('{"qom-type":"input-linux"'))
    assert obj == {"qom-type": "input-linux", "id": "input0", "evdev": str(node), "repeat": True, "grab_all": True,
                   "grab-toggle": "alt-alt"}  # fmt: skip
    guest = conn.define_domain(EVDEV.format(virt=virt_type, dev=node))
    with pytest.raises(Error) as err:
        guest.create()
    assert str(node) in str(err.value) and not guest.is_active()
