"""Per-domain jobs in the LXC driver: a change that comes while a container starts waits for the start.

libvirt's LXC driver starts a container within a modify job and destroys it
within a destroy job, so a ``destroy`` sent while ``start`` is still under
way (the controller's interpreter starting, namespaces being set up) waits
for the start and then destroys the container, instead of failing with
"domain is not running" and leaving a container nobody asked to keep.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pyvirt
from pyvirt import DomainState

from .test_containers import domain_xml, leftovers


def test_destroy_during_a_start_waits_for_it_and_then_destroys(
    lxc_root: Path, make_rootfs: Callable[..., Path]
) -> None:
    rootfs = make_rootfs("exec sleep 1000\n")
    uri = f"lxc:///embed?root={lxc_root}"
    run = lxc_root / "run" / "lxc"
    with pyvirt.open(uri) as starter, pyvirt.open(uri) as other:
        dom = starter.define_domain(domain_xml("lxcjob", rootfs))
        for _attempt in range(5):
            outcome: list[object] = []

            def start(outcome: list[object] = outcome) -> None:
                try:
                    dom.create()
                    outcome.append("started")
                except pyvirt.Error as exc:
                    outcome.append(exc)

            thread = threading.Thread(target=start)
            thread.start()
            deadline = time.monotonic() + 30
            while not (run / "lxcjob.spec").exists():  # written once the start is under way
                assert time.monotonic() < deadline, "the start never got under way"
                time.sleep(0.001)
            under_way = not (run / "lxcjob.xml").exists()  # the status file is the start's last step
            other.lookup_domain_by_name("lxcjob").destroy()  # must not fail with "domain is not running"
            thread.join(30)
            assert outcome == ["started"]
            assert dom.state() == (DomainState.SHUTOFF, 2)  # shut off (destroyed)
            assert leftovers("lxcjob", lxc_root) == []
            if under_way:
                break
        else:
            raise AssertionError("every start finished before the destroy was sent: nothing was tested")
        dom.undefine()
