"""Every domain event kind goes on libvirt's wire from pyvirtd, and Debian's virsh and pyvirsh print it alike.

No driver here can make all 26 kinds happen (a watchdog, a memory failure
and a graphics client need a guest OS or hardware), so the daemon's half
is played: pyvirtd runs unchanged, and a small harness around it hands
the test driver's event sink one record of each kind when the test asks
(a trigger file). Everything after that is real: pyvirtd's encoding of
each REMOTE_PROC_DOMAIN_EVENT_CALLBACK_* message, libvirt's own client
decoding it in Debian's virsh and printing it with virsh 9.0's callbacks,
and pyvirt's remote client decoding it for pyvirsh. The values cover what
the printers must get right: absent strings (``<null>``), numbers beyond
virsh's tables (``unknown`` / ``unsupported value``), multi-line events
(graphics identities, typed parameters, memory failure).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.events import DOMAIN_EVENT_IDS

pytestmark = pytest.mark.skipif(not shutil.which("virsh"), reason="Debian's virsh (libvirt-clients) is the reference")

PYVIRSH = str(Path(sys.executable).with_name("pyvirsh"))

# Runs pyvirtd's own main() after wrapping EventSink so that the records below reach every sink the
# daemon made (only the test driver's shared connection has listeners) when the trigger file appears.
HARNESS = """
import os, sys, threading, time, weakref
import pyvirt.events as events
from pyvirt.plugin.records import DomainRef
from pyvirt.plugin.typed_params import TypedParam, TypedParamType as T

sinks = weakref.WeakSet()
_init = events.EventSink.__init__
def init(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    sinks.add(self)
events.EventSink.__init__ = init

def samples():
    dom = DomainRef("test", "6695eb01-f6a4-8304-79aa-97f2502e193f", 1)
    e = events
    return [
        ("reboot", e.RebootEvent(dom)),
        ("rtc-change", e.RtcChangeEvent(dom, -3600)),
        ("watchdog", e.WatchdogEvent(dom, 6)),
        ("watchdog", e.WatchdogEvent(dom, 42)),
        ("io-error", e.IOErrorEvent(dom, "/img/a.qcow2", "virtio-disk0", 1)),
        ("graphics", e.GraphicsEvent(dom, 1, e.GraphicsAddress(0, "127.0.0.1", "5900"),
                                     e.GraphicsAddress(1, "::1", "40000"), "vnc",
                                     [("x509dname", "CN=client"), ("saslUsername", "fred")])),
        ("graphics", e.GraphicsEvent(dom, 2, e.GraphicsAddress(2, "/run/vnc", ""),
                                     e.GraphicsAddress(2, "", ""), "none", [])),
        ("io-error-reason", e.IOErrorReasonEvent(dom, "", "", 2, "enospc")),
        ("control-error", e.ControlErrorEvent(dom)),
        ("block-job", e.BlockJobEvent(dom, "/img/a.qcow2", 2, 3)),
        ("disk-change", e.DiskChangeEvent(dom, None, "/iso/b.iso", "ide0-1-0", 0)),
        ("disk-change", e.DiskChangeEvent(dom, "/iso/gone.iso", None, "sata0-0-1", 1)),
        ("tray-change", e.TrayChangeEvent(dom, "ide0-1-0", 0)),
        ("tray-change", e.TrayChangeEvent(dom, "ide0-1-0", 1)),
        ("pm-wakeup", e.PMWakeupEvent(dom)),
        ("pm-suspend", e.PMSuspendEvent(dom)),
        ("balloon-change", e.BalloonChangeEvent(dom, 196608)),
        ("pm-suspend-disk", e.PMSuspendDiskEvent(dom)),
        ("device-removed", e.DeviceRemovedEvent(dom, "net0")),
        ("block-job-2", e.BlockJob2Event(dom, "vda", 4, 0)),
        ("tunable", e.TunableEvent(dom, [TypedParam("cputune.vcpupin0", T.STRING, "0-1"),
                                         TypedParam("cputune.shares", T.ULLONG, 2048),
                                         TypedParam("blkdeviotune.group_name", T.STRING, "g")])),
        ("agent-lifecycle", e.AgentLifecycleEvent(dom, 1, 1)),
        ("agent-lifecycle", e.AgentLifecycleEvent(dom, 5, 9)),
        ("device-added", e.DeviceAddedEvent(dom, "virtio-disk1")),
        ("migration-iteration", e.MigrationIterationEvent(dom, 3)),
        ("job-completed", e.JobCompletedEvent(dom, [TypedParam("type", T.INT, 3),
                                                    TypedParam("time_elapsed", T.ULLONG, 1234),
                                                    TypedParam("compression", T.DOUBLE, 0.25),
                                                    TypedParam("auto_converge", T.BOOLEAN, True)])),
        ("device-removal-failed", e.DeviceRemovalFailedEvent(dom, "hostdev0")),
        ("metadata-change", e.MetadataChangeEvent(dom, 2, "http://example.org/ns")),
        ("metadata-change", e.MetadataChangeEvent(dom, 0, None)),
        ("block-threshold", e.BlockThresholdEvent(dom, "vda[1]", None, 1048576, 4096)),
        ("block-threshold", e.BlockThresholdEvent(dom, "vdb", "/img/b.raw", 0, 1)),
        ("memory-failure", e.MemoryFailureEvent(dom, 1, 3, 3)),
        ("memory-failure", e.MemoryFailureEvent(dom, 0, 7, 0)),
        ("memory-device-size-change", e.MemoryDeviceSizeChangeEvent(dom, "virtiomem0", 524288)),
    ]

def fire(trigger):
    while True:
        if os.path.exists(trigger):
            os.unlink(trigger)
            for sink in list(sinks):
                for kind, record in samples():
                    sink.emit(kind, record)
        time.sleep(0.02)

threading.Thread(target=fire, args=(sys.argv[1],), daemon=True).start()
from pyvirt.daemon.main import main
sys.exit(main(sys.argv[2:]))
"""
EXPECTED_EVENTS = 34


class HarnessDaemon(PrivateDaemon):
    """pyvirtd started through :data:`HARNESS` (the prefix replaces ``python -m pyvirt.daemon``)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.trigger = root / "fire"
        wrapper = root / "pyvirtd-harness"
        (root / "harness.py").write_text(HARNESS)
        wrapper.write_text(
            f'#!/bin/sh\nshift 3\nexec "{sys.executable}" "{root / "harness.py"}" "{self.trigger}" "$@"\n'
        )
        wrapper.chmod(0o755)
        self.prefix = (str(wrapper),)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HarnessDaemon]:
    with HarnessDaemon(tmp_path_factory.mktemp("pyvirtd-events")) as d:
        yield d


def test_every_kind_prints_as_virsh_prints_it(daemon: HarnessDaemon, event_listeners: Any) -> None:
    uri = daemon.uri()
    # the event command's own connection keeps test:///default's shared state alive in pyvirtd; the loops are
    # ended by Ctrl-C once their last event came, the one-shots end by themselves (the timeouts bound a broken run)
    loops = {
        "virsh": ["virsh", "-c", uri, "event", "--all", "--loop", "--timeout", "60"],
        "pyvirsh": [PYVIRSH, "-c", uri, "event", "--all", "--loop", "--timeout", "60"],
        "virsh --timestamp": ["virsh", "-c", uri, "event", "--event", "graphics", "--loop", "--timestamp",
                              "--timeout", "60"],
        "pyvirsh --timestamp": [PYVIRSH, "-c", uri, "event", "--event", "graphics", "--loop", "--timestamp",
                                "--timeout", "60"],
    }  # fmt: skip
    one_shots = {
        "virsh --domain --event": ["virsh", "-c", uri, "event", "test", "--event", "memory-failure", "--timeout", "60"],
        "pyvirsh --domain --event": [PYVIRSH, "-c", uri, "event", "test", "--event", "memory-failure", "--timeout",
                                     "60"],
    }  # fmt: skip
    for name, argv in {**loops, **one_shots}.items():
        event_listeners.start(name, argv)
    time.sleep(3)  # every listener connected and registered (virsh's start-up under a loaded CI machine)
    daemon.trigger.touch()
    for name in loops:  # the last record of each kind the listener takes (see HARNESS)
        last = ("event 'graphics'", 2) if "--timestamp" in name else ("event 'memory-device-size-change'", 1)
        event_listeners.printed(name, *last)
        event_listeners.interrupt(name)
    out = event_listeners.results()
    virsh, pyvirsh = out["virsh"][0], out["pyvirsh"][0]
    assert virsh.count("event '") == EXPECTED_EVENTS, out["virsh"]
    assert pyvirsh == virsh, out["pyvirsh"][1]
    assert out["virsh"][2] == out["pyvirsh"][2] == 0
    # one-shot: the first memory-failure only, then the count; both tools alike
    assert out["pyvirsh --domain --event"] == out["virsh --domain --event"]
    assert out["virsh --domain --event"][0].startswith("event 'memory-failure' for domain 'test':\nrecipient: guest\n")
    # --timestamp: virTimeStringNowRaw's UTC time before the first line of each event (the times differ)
    stamped = {name: re.sub(r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+0000: ", "T: ", out[name][0])
               for name in ("virsh --timestamp", "pyvirsh --timestamp")}  # fmt: skip
    assert stamped["pyvirsh --timestamp"] == stamped["virsh --timestamp"]
    assert stamped["virsh --timestamp"].count("T: event 'graphics'") == 2
    assert daemon.tracebacks() == []


def test_event_list_is_virshs() -> None:
    ours = subprocess.run(
        [PYVIRSH, "-c", "test:///default", "event", "--list"], capture_output=True, text=True, check=False, timeout=60
    )
    theirs = subprocess.run(
        ["virsh", "-c", "test:///default", "event", "--list"], capture_output=True, text=True, check=False, timeout=60
    )
    assert ours.stdout == theirs.stdout and ours.returncode == theirs.returncode == 0
    assert ours.stdout.split() == list(DOMAIN_EVENT_IDS)
