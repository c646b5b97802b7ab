"""The test driver's metadata-change event, as libvirt's test driver raises it (testDomainSetMetadata).

The same changes (``desc --title``, ``desc``, ``metadata --set`` and its
removal) are made on libvirtd 9.0 and on pyvirtd, each while an ``event``
command listens on the shared ``test:///default``; Debian's virsh and
pyvirsh listen on both daemons, and the four outputs are one.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pyvirt.daemon.instance import PrivateDaemon

pytestmark = pytest.mark.skipif(not shutil.which("virsh"), reason="Debian's virsh (libvirt-clients) is the reference")

PYVIRSH = str(Path(sys.executable).with_name("pyvirsh"))
CHANGES = (
    "desc test --title 'a title'; desc test 'a description'; "
    "metadata test --uri http://pyvirt.org/x --key px --set '<x/>'; metadata test --uri http://pyvirt.org/x --remove"
)


@pytest.fixture(scope="module")
def pyvirtd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateDaemon]:
    with PrivateDaemon(tmp_path_factory.mktemp("pyvirtd")) as daemon:
        yield daemon


def test_metadata_changes_print_the_same_from_libvirtd_and_pyvirtd(
    libvirtd: Any, pyvirtd: PrivateDaemon, event_listeners: Any
) -> None:
    args = ("event", "test", "--event", "metadata-change", "--loop", "--timeout", "60")  # Ctrl-C ends them
    event_listeners.start("virsh on libvirtd", ["virsh", "-c", libvirtd.uri(), *args])
    event_listeners.start("pyvirsh on libvirtd", [PYVIRSH, "-c", libvirtd.uri(), *args])  # pyvirt's client decodes
    event_listeners.start("virsh on pyvirtd", ["virsh", "-c", pyvirtd.uri(), *args])  # pyvirtd's test driver raises
    # --all has metadata-change
    event_listeners.start("pyvirsh on pyvirtd", [PYVIRSH, "-c", pyvirtd.uri(), "event", "--all", "--loop",
                                                 "--timeout", "60"])  # fmt: skip
    time.sleep(2)  # registered before the changes
    for uri in (libvirtd.uri(), pyvirtd.uri()):
        change = subprocess.run(["virsh", "-c", uri, CHANGES], capture_output=True, text=True, check=False)
        assert change.returncode == 0, change.stderr
    for name in list(event_listeners.procs):  # the four changes' events reached it: the loop is over
        event_listeners.printed(name, "event 'metadata-change'", 4)
        event_listeners.interrupt(name)
    out = event_listeners.results()
    reference = out.pop("virsh on libvirtd")
    assert reference[0].splitlines() == [
        "event 'metadata-change' for domain 'test': type title, uri <null>",
        "event 'metadata-change' for domain 'test': type description, uri <null>",
        "event 'metadata-change' for domain 'test': type element, uri http://pyvirt.org/x",
        "event 'metadata-change' for domain 'test': type element, uri http://pyvirt.org/x",
        "event loop interrupted",
        "events received: 4",
        "",  # virsh ends a one-line run with an empty line
    ], reference
    for name, got in out.items():
        assert got == reference, name
