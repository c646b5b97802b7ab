"""What the Xen driver needs from a host, as a user meets it: host-validate, the missing-program hint, Depends.

The toolstack is declared in ``system-deps.toml`` with ``install = false``
(it works only in a Xen dom0, so ./bootstrap leaves it off this host); every
other reader still reports it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pyvirt_xen.host_validate import check_xen, is_xen_dom0

import pyvirt
from pyvirt.errors import Error, ErrorCode
from pyvirt.util.host_validate import Status
from pyvirt.util.system_deps import debian_relations, load_system_deps

PV = """<domain type='xen'>
  <name>pv1</name>
  <memory>262144</memory>
  <os><type>linux</type><kernel>/boot/vmlinuz</kernel></os>
</domain>"""


def test_the_toolstack_is_declared_runtime_only_and_still_a_packagers_depends() -> None:
    deps = {d.name: d for d in load_system_deps("pyvirt_xen")}
    assert {"xl", "xenstore-read", "xenstore-watch"} <= set(deps)
    assert all(not d.install and d.why_not_installed for d in deps.values())
    assert deps["xl"].required and deps["xl"].package == "xen-utils-4.17"
    assert debian_relations("pyvirt_xen")[0] == ["xen-utils-4.17"]


@pytest.mark.parametrize(
    ("capabilities", "xenstored", "dom0"),
    [
        ("control_d\n", False, True),  # a dom0's xenfs
        ("", False, False),  # a guest that mounted xenfs: the file exists, empty
        (None, True, True),  # no xenfs mounted, but dom0's xenstored device
        (None, False, False),  # not under Xen at all
    ],
)
def test_dom0_is_recognised_as_libvirts_libxl_driver_recognises_it(
    tmp_path: Path, capabilities: str | None, xenstored: bool, dom0: bool
) -> None:
    caps, dev = tmp_path / "capabilities", tmp_path / "xenstored"
    if capabilities is not None:
        caps.write_text(capabilities)
    if xenstored:
        dev.touch()
    assert is_xen_dom0(str(caps), str(dev)) is dom0


def test_a_missing_toolstack_fails_only_in_a_dom0(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    in_dom0 = {r.description: r for r in check_xen(dom0=True)}
    xl = in_dom0["for program 'xl' (the Xen toolstack: guests' lifecycle, save and restore, xl list and xl info)"]
    assert (xl.status, xl.fix) == (Status.FAIL, "apt-get install xen-utils-4.17")
    assert in_dom0["if this host is a Xen dom0"].status is Status.PASS
    elsewhere = list(check_xen(dom0=False))
    assert elsewhere[0].description == "if this host is a Xen dom0" and elsewhere[0].status is Status.WARN
    assert {r.status for r in elsewhere} == {Status.WARN}  # definitions and conversions work; nothing to fail


@pytest.mark.skipif(is_xen_dom0(), reason="this host is a Xen dom0: its XEN group is the real one")
def test_host_validate_on_a_host_without_xen_warns_and_passes() -> None:
    proc = subprocess.run([sys.executable, "-m", "pyvirt.cli.main", "host-validate", "--json", "xen"],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    results = json.loads(proc.stdout)
    assert proc.returncode == 0, proc.stderr
    assert [r["status"] for r in results][:2] == ["WARN", "PASS" if shutil.which("xl") else "WARN"]


@pytest.mark.skipif(shutil.which("xl") is not None, reason="xl is installed here: starts are tested for real")
def test_a_start_without_the_toolstack_names_its_package(tmp_path: Path) -> None:
    with pyvirt.open(f"xen:///embed?root={tmp_path}") as conn:
        dom = conn.define_domain(PV)
        with pytest.raises(Error) as err:
            dom.start()
    assert err.value.code == ErrorCode.SYSTEM_ERROR
    assert err.value.message == (
        "Cannot find 'xl' in path: No such file or directory (install the Debian package 'xen-utils-4.17')"
    )
