"""snapshot-list, -create-as, -current, -revert, -delete and the checkpoint commands' options, against virsh 9.0.

Each line runs in one session on test:///default, after the same snapshots
are taken: s1 <- s2, s1 <- s3 <- s4 <- s5 (s5 of the shut-off guest), s1
current again. Output, errors and exit status must be Debian's virsh's; the
creation times are masked, as the two runs take their snapshots a moment
apart.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

VIRSH = shutil.which("virsh")
PYVIRSH = [sys.executable, "-m", "pyvirt.cli.main"]
needs_virsh = pytest.mark.skipif(VIRSH is None, reason="Debian's virsh (libvirt-clients) is the reference")

SETUP = ("snapshot-create-as test s1; snapshot-create-as test s2; snapshot-revert test s1; "
         "snapshot-create-as test s3; snapshot-create-as test s4; destroy test; snapshot-create-as test s5; "
         "snapshot-revert test s1")  # fmt: skip

LIST_CASES = [
    "snapshot-list test --parent",
    "snapshot-list test --roots",
    "snapshot-list test --leaves",
    "snapshot-list test --no-leaves --name",
    "snapshot-list test --leaves --no-leaves --name",
    "snapshot-list test --metadata --name",
    "snapshot-list test --no-metadata",
    "snapshot-list test --metadata --no-metadata --name",
    "snapshot-list test --inactive",
    "snapshot-list test --active --name",
    "snapshot-list test --active --inactive --name",
    "snapshot-list test --disk-only",
    "snapshot-list test --internal --name",
    "snapshot-list test --external",
    "snapshot-create-as test s6 --memspec /tmp/pyvirt-nowhere,snapshot=external --diskspec vda,snapshot=no; "
    "snapshot-list test --external; snapshot-list test --internal --name",
    "snapshot-list test --from s1",
    "snapshot-list test --from s1 --name --descendants",
    "snapshot-list test s3 --name",
    "snapshot-list test --current --name",
    "snapshot-list test --current --descendants --name",
    "snapshot-list test --from s1 --tree",
    "snapshot-list test --from s3 --tree --descendants",
    "snapshot-list test --from s1 --descendants --topological --name",
    "snapshot-list test --topological --name",
    "snapshot-list test --topological --tree",
    "snapshot-list test --from s1 --leaves --descendants --name",
    "snapshot-list test --roots --leaves --name",
    "snapshot-list test --roots --topological --name",
    "snapshot-list test --tree --metadata",
    # refusals, in virsh's order of checks
    "snapshot-list test --from s1 --current",
    "snapshot-list test --from nope",
    "snapshot-list test --from ''",
    "snapshot-list test --descendants",
    "snapshot-list test --tree --name",
    "snapshot-list test --parent --roots",
    "snapshot-list test --parent --tree",
    "snapshot-list test --roots --tree",
    "snapshot-list test --roots --from s1",
    "snapshot-list test --roots --current",
    "snapshot-list test --tree --leaves",
    "snapshot-list test --tree --external",
]

OTHER_CASES = [
    # snapshot-create-as: the document virsh writes, then each flag as the test driver takes it
    "snapshot-create-as test --print-xml --name 'a<b' --description 'x&y' --memspec /tmp/m,snapshot=external "
    "--diskspec vda,snapshot=external,driver=qcow2,file=/tmp/a.qcow2 hdb,stype=block,file=/dev/x vdc,snapshot=no",
    "snapshot-create-as test n1 d1 vda,snapshot=no --print-xml",
    "snapshot-create-as test --print-xml --memspec file=/x,,y --diskspec '' --diskspec vda,,x,file=",
    "snapshot-create-as test --print-xml --memspec bad",
    "snapshot-create-as test --print-xml --diskspec vda,stype=net",
    "snapshot-create-as test --print-xml --diskspec vda,foo=1",
    "snapshot-create-as test --print-xml --name ''",
    "snapshot-create-as test n1 --no-metadata",
    "snapshot-create-as test n1 --reuse-external",
    "snapshot-create-as test n1 --quiesce; snapshot-create-as test n2 --validate; snapshot-list test --name",
    "snapshot-create-as test n1 --validate --memspec snapshot=bogus",
    # --halt refused with another flag: virsh retries without HALT (its emulation for old servers)
    "snapshot-create-as test n1 --halt --no-metadata",
    "snapshot-create-as test n1 --halt --quiesce; domstate test",
    # snapshot-current --snapshotname
    "snapshot-current test --name; snapshot-current test s2; snapshot-current test --name",
    "snapshot-current test --snapshotname nope",
    "snapshot-current test --name --snapshotname s1",
    "snapshot-current test --snapshotname ''",
    # snapshot-revert / -delete: --snapshotname by name or position
    "snapshot-revert test s1 --reset-nvram",
    "snapshot-revert test --snapshotname s2 --current",
    "snapshot-revert test --snapshotname s5 --force; domstate test",
    "snapshot-delete test --snapshotname s2; snapshot-delete test s5; snapshot-list test --name",
]

CHECKPOINT_CASES = [
    "checkpoint-create-as test --name c1 --description d; checkpoint-create-as test c2 d2; "
    "checkpoint-dumpxml test --checkpointname c2 --no-domain --xpath //description; checkpoint-dumpxml test c1 "
    "--xpath //name; checkpoint-delete test --checkpointname c2; checkpoint-delete test c1; checkpoint-list test",
]

_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}")


def _run(tool: list[str], line: str) -> tuple[str, str, int]:
    env = dict(os.environ, LC_ALL="C")
    env.pop("LIBVIRT_DEFAULT_URI", None)
    p = subprocess.run([*tool, "-c", "test:///default", line], capture_output=True, text=True, env=env, timeout=60,
                       check=False)  # fmt: skip
    return _TIME.sub("TIME", p.stdout), p.stderr, p.returncode


@needs_virsh
@pytest.mark.parametrize("line", LIST_CASES + OTHER_CASES)
def test_snapshot_options_like_virsh(line: str) -> None:
    assert VIRSH is not None
    assert _run(PYVIRSH, f"{SETUP}; {line}") == _run([VIRSH], f"{SETUP}; {line}")


@needs_virsh
@pytest.mark.parametrize("line", CHECKPOINT_CASES)
def test_checkpoint_names_by_option_like_virsh(line: str) -> None:
    assert VIRSH is not None
    assert _run(PYVIRSH, line) == _run([VIRSH], line)


def test_list_filters_of_the_test_driver() -> None:
    """The driver's own filtering, as a program sees it: no CLI fallback can hide a flag it ignores."""
    import pyvirt
    from pyvirt.flags import DomainSnapshotListFlags as F

    with pyvirt.open("test:///default") as conn:
        d = conn.lookup_domain_by_name("test")
        for name in ("a", "b"):
            d.snapshot_create(f"<domainsnapshot><name>{name}</name></domainsnapshot>")
        d.snapshot_lookup_by_name("a").revert()
        d.snapshot_create("<domainsnapshot><name>c</name></domainsnapshot>")

        def names(flags: int) -> list[str]:
            return [s.name for s in d.list_snapshots(flags)]

        assert sorted(names(0)) == ["a", "b", "c"]
        assert names(F.ROOTS) == ["a"]
        assert sorted(names(F.LEAVES)) == ["b", "c"]
        assert names(F.NO_LEAVES) == ["a"]
        assert names(F.LEAVES | F.NO_LEAVES) == []
        assert names(F.NO_METADATA) == []
        assert names(F.TOPOLOGICAL) == ["a", "c", "b"]  # libvirt's walk: newest child first
        assert names(F.INACTIVE) == [] and sorted(names(F.ACTIVE)) == ["a", "b", "c"]
        assert names(F.EXTERNAL) == []
        with pytest.raises(pyvirt.Error, match=r"unsupported flags \(0x800\) in function testDomainListAllSnapshots"):
            d.list_snapshots(0x800)
