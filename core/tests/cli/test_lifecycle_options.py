"""The options of list, start, create, restore, destroy, undefine... that virsh 9.0 has, run as virsh runs them.

Each line runs in both tools on test:///default from the same directory, so
stdout, stderr and exit status must be virsh's: the filter or flag each option
maps to (libvirt's test driver refuses START_BYPASS_CACHE, START_RESET_NVRAM
and DESTROY_REMOVE_LOGS by value), virsh's own fallbacks (--force-boot retried
without the flag after removing the managed save image, undefine retried
piecewise), its parsing of --pass-fds, the volumes undefine finds and removes,
and where an option goes when it comes by position.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from virsh_compare import PYVIRSH, SKIP_WITHOUT_VIRSH, VIRSH, run_line

GUEST = "<domain type='test'><name>j1</name><memory>1024</memory><os><type>hvm</type></os></domain>"
# disks on a volume found by path, one found by pool and name, a pool that does not exist, a file no pool holds,
# and a CD-ROM with no source
DISKS = """<domain type='test'><name>d2</name><memory>1024</memory><os><type>hvm</type></os><devices>
<disk type='file' device='disk'><source file='/default-pool/v1'/><target dev='vda'/></disk>
<disk type='volume' device='disk'><source pool='default-pool' volume='v2'/><target dev='vdb'/></disk>
<disk type='volume' device='disk'><source pool='nopool' volume='v3'/><target dev='vdc'/></disk>
<disk type='file' device='disk'><source file='/elsewhere/x.img'/><target dev='vdd'/></disk>
<disk type='file' device='cdrom'><target dev='hdc'/></disk>
</devices></domain>"""
VOLS = "vol-create-as default-pool v1 1M; vol-create-as default-pool v2 1M; define disks.xml"

CASES = [
    # list: the checkpoint filter group, and --managed-save's "saved" state
    "list --all --with-checkpoint; list --all --without-checkpoint",
    "checkpoint-create-as test c1; list --all --with-checkpoint; list --all --without-checkpoint --name",
    "managedsave test; list --all --managed-save; list --all --managed-save --title; list --all",
    # start
    "destroy test; start test --bypass-cache",
    "destroy test; start test --reset-nvram",
    "destroy test; start test --force-boot; domstate test",
    "managedsave test; start test --force-boot; domstate --reason test; list --all --without-managed-save --name",
    "destroy test; start test --pass-fds 1,x",
    "destroy test; start test --pass-fds ''",
    "destroy test; start test --pass-fds '3 '",
    "destroy test; start test --pass-fds 99999999999",
    "destroy test; start test --pass-fds 0,1; domstate test",  # the test driver takes them and ignores them
    "destroy test; start test --console",
    # create
    "create guest.xml --reset-nvram",
    "create guest.xml --console; list",
    "create guest.xml --pass-fds a",
    "create guest.xml --pass-fds 2; list --name",
    # restore: the test driver checks the flags before it opens the image (virsh's save of test:/// may hang)
    "restore saved.img --reset-nvram",
    # destroy
    "destroy test --remove-logs",
    "destroy test --graceful --remove-logs",
    "destroy test --graceful; list --all",
    # undefine: flags the test driver refuses fall back to a plain undefine, except --nvram
    "destroy test; undefine test --checkpoints-metadata",
    "destroy test; undefine test --tpm; list --all",
    "undefine 6695eb01-f6a4-8304-79aa-97f2502e193f --keep-tpm; list --all",
    "undefine test --nvram --tpm",
    "undefine test --keep-nvram",
    "destroy test; snapshot-create-as test s1; undefine test",
    "destroy test; snapshot-create-as test s1; undefine test --snapshots-metadata --checkpoints-metadata; list --all",
    "undefine test --tpm --keep-tpm",
    "undefine nosuch --tpm",
    # undefine's storage options
    "undefine test --wipe-storage",
    "undefine test --delete-storage-volume-snapshots",
    "undefine test --storage vda",
    "destroy test; undefine test --storage vda,hdb",
    "destroy test; undefine test --remove-all-storage --storage x",
    "destroy test; undefine test --remove-all-storage",
    f"{VOLS}; undefine d2 --remove-all-storage; vol-list default-pool",
    f"{VOLS}; undefine d2 --storage vda,/default-pool/v2 --wipe-storage; vol-list default-pool",
    f"{VOLS}; undefine d2 --remove-all-storage --delete-storage-volume-snapshots; vol-list default-pool",
    f"{VOLS}; undefine d2 --storage vdd; list --all",
    # domxml-to-native: --domain only by name, the XML file by position
    "domxml-to-native qemu-argv test",
    "domxml-to-native qemu-argv",
    "domxml-to-native qemu-argv --domain test",
    "domxml-to-native qemu-argv --domain test guest.xml",
    # schedinfo's numbers read as the parameter's type, screenshot's file and event's domain by position
    "schedinfo test --weight abc",
    "schedinfo test --cap 3 --weight 7 --current",
    "screenshot test shot.ppm --screen 0",
    "event test --timeout 1",
]


@pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)
@pytest.mark.parametrize("line", CASES)
def test_like_virsh(line: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert VIRSH is not None
    (tmp_path / "guest.xml").write_text(GUEST)
    (tmp_path / "disks.xml").write_text(DISKS)
    monkeypatch.chdir(tmp_path)
    expected = run_line([VIRSH], line)
    (tmp_path / "shot.ppm").unlink(missing_ok=True)
    got = run_line(PYVIRSH, line)
    assert got == expected
