"""virsh 9.0 commands pyvirsh builds on the client side, beside Debian's virsh on test:///default.

Each line runs in both tools; stdout, stderr and the exit status must be the
same bytes. libvirt's test driver has no update-device, so the lines that
would change a device compare virsh's failure path, and ``--print-xml``
compares the element virsh would have sent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

VIRSH = shutil.which("virsh")
PYVIRSH = [sys.executable, "-m", "pyvirt.cli.main"]
_CHECKPOINT = "<domaincheckpoint><name>c2</name></domaincheckpoint>"  # what --xmlfile /dev/stdin reads


def _run(argv: list[str], line: str) -> tuple[str, str, int]:
    done = subprocess.run([*argv, "-c", "test:///default", line], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, LC_ALL="C"), input=_CHECKPOINT, check=False)  # fmt: skip
    return done.stdout, done.stderr, done.returncode


@pytest.mark.skipif(VIRSH is None, reason="Debian's virsh (libvirt-clients) is the reference")
@pytest.mark.parametrize(
    "line",
    [
        "ttyconsole test",
        "ttyconsole nosuch",
        "domif-getlink test testnet0; domif-getlink test AA:BB:CC:DD:EE:FF; domif-getlink test testnet0 --config",
        "domif-getlink test a:b:c:d:e:f",
        "domif-getlink test eth9",
        "domif-setlink test testnet0 down --print-xml",
        "domif-setlink test AA:bb:CC:DD:EE:FF up --persistent --print-xml",
        "domif-setlink test testnet0 down; domif-getlink test testnet0",
        "domif-setlink test testnet0 down --config",
        "domif-setlink test testnet0 sideways",
        "domif-setlink test eth9 up",
        "pool-define-as p dir --target /tmp/p --print-xml",
        "pool-define-as p netfs --source-host h --source-path /p --source-dev /dev/x --source-name sn --target /t "
        "--source-format fmt --auth-type chap --auth-username u --secret-usage us --adapter-wwnn 1 --adapter-wwpn 2 "
        "--adapter-parent-wwnn 3 --adapter-parent-wwpn 4 --source-protocol-ver 3 --source-initiator iqn.x --print-xml",
        "pool-create-as p scsi --adapter-name host0 --auth-type a --auth-username u --secret-uuid 1 --print-xml",
        "pool-create-as p fs --adapter-wwnn 1 --adapter-wwpn 2 --adapter-parent pp --print-xml",
        "pool-create-as p fs --adapter-wwnn 1 --adapter-wwpn 2 --adapter-parent-fabric-wwn f --print-xml",
        "pool-define-as p dir --target /tmp/p; pool-list --all; pool-dumpxml p --xpath //target",
        "pool-create-as p dir --target /tmp; pool-list --all",
        "pool-create-as p dir --overwrite --no-overwrite",
        "pool-define-as p dir --secret-usage a --secret-uuid b",
        "pool-define-as p dir --target ''",
        "pool-define-as '' dir",
        # libvirt's test driver: no build at creation or start, its words for duplicates and pool types
        "pool-create-as p dir --target /tmp/p --build",
        "pool-create-as p dir --target /tmp/p --build --overwrite",
        "pool-create-as p dir --target /tmp/p --no-overwrite",
        "pool-define-as p dir --target /tmp/p; pool-start p --build; pool-start p; pool-dumpxml p --inactive",
        "pool-create-as default-pool dir --target /tmp/p; pool-define-as default-pool dir --target /tmp/p",
        "pool-create-as p bogus --target /tmp/p; pool-define-as p bogus",
        # virBufferEscapeString: quotes as entities too; the domain is looked up before --print-xml
        'snapshot-create-as test "a\'b<&>\\"" --description "x\'y" --print-xml',
        "snapshot-create-as nosuch s --print-xml; snapshot-create-as test --print-xml",
        "checkpoint-create-as test \"q'\" --description 'd\"' --print-xml",
        # virsh calls the Flags variant as soon as --current is given, the plain one without any option
        "attach-device test /dev/stdin --current; attach-device test /dev/stdin",
        "detach-device test /dev/stdin --current; update-device test /dev/stdin --current",
        "checkpoint-create test --redefine-validate",
        "checkpoint-create nosuch",
        "checkpoint-create test /nonexistent",
        "checkpoint-info test",
        "checkpoint-info test x",
        "checkpoint-parent test x",
        "checkpoint-create-as test c1; checkpoint-create test --xmlfile /dev/stdin; checkpoint-info test c1; "
        "checkpoint-info test --checkpointname c2; checkpoint-parent test c2; checkpoint-parent test c1",
        "nodedev-info computer; nodedev-info scsi_host1",
        "nodedev-info nosuch",
        "nodedev-info a,b",
        "nodedev-info a,b,c",
        "nodedev-info 0123456789abcdef,0x0123456789abcdef",
        "nodedev-event --list; secret-event --list",
        "nodedev-event",
        "secret-event --event x",
        "nodedev-event --event update --timeout 0",
        "nodedev-event --event update --timeout -1",
        "nodedev-event --event lifecycle --device nosuch --timeout 1",
        "attach-interface test network default --print-xml",
        "attach-interface test bridge br0 --target vnet9 --mac 52:54:00:00:00:01 --script /s --model virtio "
        "--alias ua-x --inbound 100,200,300,400 --outbound 10,,30 --managed --print-xml",
        "attach-interface test hostdev 0000:00:1f.3 --print-xml; attach-interface test hostdev 0x1:2:3:4 --print-xml",
        "attach-interface test hostdev zz --print-xml",
        "attach-interface test vhostuser /sock --print-xml",
        "attach-interface test vhostuser /sock --source-mode client --print-xml",
        "attach-interface test direct eth0 --print-xml",
        "attach-interface test user x",
        "attach-interface test bogus x",
        "attach-interface test network default --source-mode x",
        "attach-interface test network default --inbound 0,1",
        "attach-interface test network default --inbound a",
        "attach-interface test network default --inbound 1,2,3,4,5",
        "attach-interface test network default --outbound 0",
        "attach-interface test network default --outbound 1,2,3,4",
        "attach-interface test network default --current --live",
        "attach-interface nosuch network default",
        "attach-interface test network default --persistent",
        "detach-interface test network --print-xml",
        "detach-interface test bridge",
        "detach-interface test network --mac AA:BB:CC:DD:EE:FF --print-xml",
        "detach-interface test network --mac aa:bb:cc:dd:ee:00",
        "detach-interface test network --config --print-xml",
        "detach-interface test network --persistent --print-xml",
        "detach-interface test network --persistent",
        "detach-interface test network --config --mac 00:11:22:33:44:55",
        "detach-interface nosuch network",
        "iface-bridge nosuch br0",
        "iface-bridge eth1 eth1",  # the bridge's name already taken
        "iface-bridge eth1 br0 --delay x",  # with the failed lookup's error after virsh's line
        "iface-bridge eth1 br0 --delay -1",
        "iface-bridge eth1 br0 --delay 5",
        "iface-unbridge br0",
        "iface-unbridge eth1",
    ],
)
def test_same_words_as_virsh(line: str) -> None:
    assert VIRSH is not None
    assert _run(PYVIRSH, line) == _run([VIRSH], line)


_CD_DOMAIN = """<domain type='test'>
  <name>cd</name>
  <memory>8192</memory>
  <os><type>hvm</type></os>
  <devices>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='/tmp/a.iso' startupPolicy='optional'/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>
    <disk type='file' device='floppy'>
      <target dev='fda' bus='fdc'/>
    </disk>
    <disk type='file' device='disk'>
      <source file='/tmp/d.img'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
"""


@pytest.mark.skipif(VIRSH is None, reason="Debian's virsh (libvirt-clients) is the reference")
@pytest.mark.parametrize(
    "tail",
    [
        "change-media cd hdc --eject --print-xml",
        "change-media cd hdc /tmp/b.iso --print-xml",  # the source rewritten in place, startupPolicy kept
        "change-media cd /tmp/a.iso /dev/sr0 --block --update --print-xml",
        "change-media cd hdc /x --insert --print-xml",
        "change-media cd fda /tmp/f.img --insert --print-xml",
        "change-media cd fda --eject",
        "change-media cd fda --insert",
        "change-media cd vda /x",
        "change-media cd /tmp/d.img /x",
        "change-media cd hdc --update --print-xml",
        "change-media cd hdc /x --config --print-xml",
        "change-media cd hdc /x",
        "change-media cd hdc --eject --force",
        "change-media cd hdc --eject --insert",
        "change-media cd hdc --eject --block",
        "change-media cd hdc --current --live",
        "change-media nosuch hdc",
    ],
)
def test_change_media_as_virsh(tail: str, tmp_path: Path) -> None:
    assert VIRSH is not None
    domain = tmp_path / "cd.xml"
    domain.write_text(_CD_DOMAIN)
    line = f"define {domain}; {tail}"
    assert _run(PYVIRSH, line) == _run([VIRSH], line)


_MEM_DOMAIN = """<domain type='test'>
  <name>mem</name>
  <memory>8388608</memory>
  <maxMemory slots='16'>16777216</maxMemory>
  <cpu><numa><cell id='0' cpus='0' memory='8388608'/></numa></cpu>
  <os><type>hvm</type></os>
  <devices>
    <memory model='virtio-mem'>
      <target>
        <size unit='KiB'>1048576</size>
        <node>0</node>
        <block unit='KiB'>2048</block>
        <requested unit='KiB'>524288</requested>
      </target>
      <alias name='ua-virtiomem0'/>
    </memory>
    <memory model='dimm'>
      <target>
        <size unit='KiB'>524288</size>
        <node>1</node>
      </target>
    </memory>
  </devices>
</domain>
"""


@pytest.mark.skipif(VIRSH is None, reason="Debian's virsh (libvirt-clients) is the reference")
@pytest.mark.parametrize(
    "tail",
    [
        "update-memory-device test",
        "update-memory-device test --node 0 --alias x",
        "update-memory-device test --current --live",
        "update-memory-device nosuch",
        "update-memory-device mem",
        "update-memory-device mem --node 0 --requested-size 1G --print-xml",
        "update-memory-device mem --alias ua-virtiomem0 --requested-size 1000 --print-xml",  # a bare number is KiB
        "update-memory-device mem --node 1 --requested-size 1000",
        "update-memory-device mem --node -1",
        "update-memory-device mem --node x",
        "update-memory-device mem --node 5",
        "update-memory-device mem --node 0 --requested-size 1X",
        "update-memory-device mem --node 0 --requested-size 1025b --print-xml --config",  # rounded up to KiB
        "update-memory-device mem --node 0 --requested-size 1G",
    ],
)
def test_update_memory_device_as_virsh(tail: str, tmp_path: Path) -> None:
    assert VIRSH is not None
    domain = tmp_path / "mem.xml"
    domain.write_text(_MEM_DOMAIN)
    line = f"define {domain}; {tail}"
    assert _run(PYVIRSH, line) == _run([VIRSH], line)


@pytest.mark.skipif(VIRSH is None, reason="Debian's virsh (libvirt-clients) is the reference")
@pytest.mark.parametrize(
    "name",
    ["ttyconsole", "domif-getlink", "domif-setlink", "pool-create-as", "pool-define-as", "checkpoint-create",
     "checkpoint-info", "checkpoint-parent", "nodedev-info", "nodedev-event", "secret-event", "attach-interface",
     "detach-interface", "change-media", "update-memory-device", "iface-bridge", "iface-unbridge"],
)  # fmt: skip
def test_help_as_virsh(name: str) -> None:
    """``help NAME`` for the commands declared here: virsh's synopsis, option kinds and texts."""
    assert VIRSH is not None
    assert _run(PYVIRSH, f"help {name}") == _run([VIRSH], f"help {name}")
