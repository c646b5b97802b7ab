"""Secrets on QEMU's command line: encrypted with the guest's master key, and opened by a real QEMU.

A LUKS image's passphrase, an iSCSI/RBD user's password and HTTP cookies
reach QEMU as ``-object secret`` encrypted under ``masterKey0``; the story
here is a user's encrypted disk: the image made with qemu-img, the guest's
command line built, QEMU started on it (it unlocks the image, or refuses a
wrong passphrase), and the guest gone afterwards.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from pyvirt_qemu.command_line import build_command_line
from pyvirt_qemu.domain_defaults import apply_defaults
from pyvirt_qemu.master_key import write_master_key
from pyvirt_qemu.qemu_secrets import GuestSecrets, aes_cbc_encrypt

from pyvirt.conf.domain import parse_domain
from pyvirt.errors import Error, ErrorCode

QEMU = "/usr/bin/qemu-system-x86_64"

GUEST = """<domain type='qemu'>
  <name>luks</name>
  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  <memory unit='KiB'>65536</memory>
  <vcpu placement='static'>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    DISK
    <memballoon model='none'/>
  </devices>
</domain>"""

LUKS_DISK = """<disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='IMAGE'>
        <encryption format='luks'><secret type='passphrase' uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/></encryption>
      </source>
      <target dev='vda' bus='virtio'/>
    </disk>"""

ISCSI_DISK = """<disk type='network' device='disk'>
      <driver name='qemu' type='raw'/>
      <source protocol='iscsi' name='iqn.1992-01.com.example:storage/1'>
        <host name='example.org' port='6000'/>
        <auth username='myname'><secret type='iscsi' usage='mycluster_myname'/></auth>
      </source>
      <target dev='vda' bus='virtio'/>
    </disk>"""


def _argv(disk: str, secrets: GuestSecrets | None, lib_dir: str, monitor: str = "/tmp/m.sock") -> list[str]:
    dom = apply_defaults(parse_domain(GUEST.replace("DISK", disk)))
    return build_command_line(dom, monitor, lib_dir=lib_dir, hugepage_mounts=[], host_nodes={0},
                              secrets=secrets).argv  # fmt: skip


def _objects(argv: list[str]) -> list[dict[str, object]]:
    return [json.loads(argv[i + 1]) for i, a in enumerate(argv) if a == "-object" and argv[i + 1].startswith("{")]


def test_the_cipher_is_libvirts() -> None:
    """The value libvirt's qemuxml2argv data shows for its fake secret, key bytes 0..31 and IV 0..15."""
    got = aes_cbc_encrypt(bytes(range(32)), bytes(range(16)), b"AQCVn5hO6HzFAhAAq0NCv8jtJcIcE+HOBlMQ1A")
    assert base64.b64encode(got) == b"9eao5F8qtkGt+seB1HYivWIxbtwUu6MQtg1zpj/oDtUsPr1q8wBYM91uEHCn6j/1"
    assert len(aes_cbc_encrypt(bytes(32), bytes(16), b"x" * 16)) == 32  # a full block of PKCS#7 padding


def test_each_secret_gets_its_own_iv_and_the_key_decrypts_it() -> None:
    """Two encryptions of one value differ (fresh IVs), so nothing on the command line repeats."""
    secrets = GuestSecrets()
    one, two = secrets.secret_object("a", b"pw"), secrets.secret_object("b", b"pw")
    assert one["iv"] != two["iv"] and one["data"] != two["data"] and one["keyid"] == "masterKey0"


def test_a_network_users_password_is_a_secret_object_before_its_node() -> None:
    looked_up: list[tuple[str, str | None, str | None]] = []

    def lookup(kind: str, uuid: str | None, usage: str | None) -> tuple[str, bytes]:
        looked_up.append((kind, uuid, usage))
        return kind, b"password"

    argv = _argv(ISCSI_DISK, GuestSecrets(lookup=lookup), "/tmp/lib")
    assert looked_up == [("iscsi", None, "mycluster_myname")]
    at = argv.index("-blockdev")
    assert json.loads(argv[at - 1])["id"] == "libvirt-1-storage-auth-secret0"
    node = json.loads(argv[at + 1])
    assert (node["user"], node["password-secret"]) == ("myname", "libvirt-1-storage-auth-secret0")


def test_without_a_secret_driver_the_disk_is_refused_by_name() -> None:
    with pytest.raises(Error) as err:
        _argv(ISCSI_DISK, GuestSecrets(), "/tmp/lib")
    assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED and "network disk <auth>" in str(err.value)


def test_a_secret_of_another_usage_is_refused_in_libvirts_words() -> None:
    secrets = GuestSecrets(lookup=lambda kind, uuid, usage: ("ceph", b"x"))
    with pytest.raises(Error) as err:
        _argv(LUKS_DISK.replace("IMAGE", "/x.img"), secrets, "/tmp/lib")
    assert err.value.code == ErrorCode.INVALID_ARG
    assert str(err.value).endswith("secret with uuid 0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f is of type 'ceph' not "
                                   "expected 'volume' type")  # fmt: skip


def _run_qemu(argv: list[str], monitor: str) -> tuple[int | None, str]:
    """Start QEMU paused; None when it came up (monitor answering), else its exit status and stderr."""
    assert argv[0] == QEMU
    proc = subprocess.Popen([QEMU, *argv[1:]], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return proc.returncode, proc.stderr.read().decode() if proc.stderr else ""
            if os.path.exists(monitor):
                try:
                    with socket.socket(socket.AF_UNIX) as sock:
                        sock.connect(monitor)
                        greeting = sock.recv(4096)  # the images were opened before the monitor answers
                except OSError:  # QEMU left: its status and words are read above on the next round
                    proc.wait(30)
                    continue
                return (None, "") if b"QMP" in greeting else (-1, greeting.decode())
            time.sleep(0.05)
        raise AssertionError("QEMU neither came up nor exited within 60 s")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stderr:
            proc.stderr.close()


@pytest.mark.skipif(not (os.path.exists(QEMU) and shutil.which("qemu-img")), reason="needs QEMU and qemu-img")
@pytest.mark.parametrize("passphrase", [b"correct horse", b"wrong"])
def test_qemu_unlocks_a_luks_image_with_the_encrypted_passphrase(tmp_path: Path, passphrase: bytes) -> None:
    """The user's story: a LUKS image, the guest's command line, and QEMU opening it (or refusing it)."""
    image = tmp_path / "disk.luks"
    create = ["qemu-img", "create", "-q", "-f", "luks", "--object", "secret,id=s0,data=correct horse",
              "-o", "key-secret=s0,iter-time=10", str(image), "1M"]  # fmt: skip
    for attempt in range(12):
        made = subprocess.run(create, capture_output=True, text=True, check=False)
        # QEMU times its first PBKDF round with the thread's CPU clock, which this VM advances in whole ticks:
        # about half the time the clock has not moved and qemu-img gives up with "Unable to get accurate CPU
        # usage" (QEMU's own check, measured 4 in 8 here). Each try takes a fraction of a second.
        if made.returncode == 0 or "Unable to get accurate CPU usage" not in made.stderr or attempt == 11:
            break
    assert made.returncode == 0, made.stderr
    secrets = GuestSecrets(lookup=lambda kind, uuid, usage: (kind, passphrase))
    monitor = str(tmp_path / "monitor.sock")
    argv = _argv(LUKS_DISK.replace("IMAGE", str(image)), secrets, str(tmp_path), monitor)
    assert [o["id"] for o in _objects(argv) if o["qom-type"] == "secret"] == [
        "masterKey0",
        "libvirt-1-format-encryption-secret0",
    ]
    assert passphrase.decode() not in " ".join(argv)  # never in the clear
    write_master_key(str(tmp_path), os.getuid(), os.getgid(), secrets.master_key)
    status, stderr = _run_qemu(argv, monitor)
    if passphrase == b"correct horse":
        assert status is None, stderr
    else:
        assert status not in (None, 0) and "Invalid password" in stderr
