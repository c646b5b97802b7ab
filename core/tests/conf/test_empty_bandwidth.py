"""A NIC's ``<bandwidth>`` with neither direction left (``domiftune --inbound 0`` after a limit) is written as
libvirt 9.0's virNetDevBandwidthFormat writes it: open and close tags on their own lines, never ``<bandwidth/>``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pyvirt.conf.domain import format_domain, parse_domain
from pyvirt.drivers.test.fixture import DEFAULT_DOMAIN_XML

VIRSH = shutil.which("virsh")
PYVIRSH = str(Path(sys.executable).with_name("pyvirsh"))


def test_an_empty_bandwidth_is_written_open_and_closed() -> None:
    nic = "<source network='default' bridge='virbr0'/>"
    dom = parse_domain(DEFAULT_DOMAIN_XML.replace(nic, nic + "<bandwidth/>"))
    text = format_domain(dom)
    assert "'/>\n      <bandwidth>\n      </bandwidth>\n" in text
    assert parse_domain(text).devices.interfaces[0].bandwidth is not None  # type: ignore[union-attr]


@pytest.mark.skipif(VIRSH is None, reason="Debian's virsh (libvirt-clients) is the reference")
def test_domiftune_back_to_zero_leaves_what_virsh_shows() -> None:
    line = ("domiftune test testnet0 --inbound 100,200,300,400 --config; domiftune test testnet0 --inbound 0 --config;"
            " dumpxml test --inactive")  # fmt: skip
    theirs, mine = (
        subprocess.run([tool, "-c", "test:///default", line], capture_output=True, text=True, timeout=60, check=False)
        for tool in (str(VIRSH), PYVIRSH)
    )
    assert "<bandwidth>\n      </bandwidth>" in theirs.stdout
    assert (mine.stdout, mine.stderr, mine.returncode) == (theirs.stdout, theirs.stderr, theirs.returncode)
