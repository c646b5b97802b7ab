"""Descriptors that travel with a call (virDomainCreateWithFiles): libvirt's CALL_WITH_FDS, both ways.

libvirt's client puts the number of descriptors right after the header of a
CALL_WITH_FDS message, then sends each descriptor after the message as one
byte carrying it (SCM_RIGHTS). pyvirtd must read them where libvirtd reads
them, give them to the call, and close them whatever happens; a client that
announces more than VIR_NET_MESSAGE_NUM_FDS_MAX (32), sends the bytes without
their descriptors, or sends descriptors no message announced breaks the
protocol: libvirtd drops it, and so does pyvirtd, closing all it got. The other
way, pyvirt's client must send them so that Debian's libvirtd takes them.
"""

from __future__ import annotations

import _socket
import array
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import pyvirt
from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.remote.message import (
    REMOTE_PROGRAM,
    REMOTE_PROTOCOL_VERSION,
    MessageType,
    Status,
    decode_header,
    encode_message,
    send_fd,
)
from pyvirt.remote.xdr import ProtocolError

AUTH_LIST = 66  # REMOTE_PROC_AUTH_LIST: no arguments, answered before CONNECT_OPEN
GUEST = "<domain type='test'><name>fdguest</name><memory>65536</memory><os><type>hvm</type></os></domain>"

PYVIRSH = str(Path(sys.executable).parent / "pyvirsh")
needs_virsh = pytest.mark.skipif(shutil.which("virsh") is None, reason="Debian's virsh (libvirt-clients) is needed")


def daemon_pid(daemon: PrivateDaemon) -> int:
    assert daemon.proc is not None
    return daemon.proc.pid


def holders(pid: int, target: Path) -> list[str]:
    """The descriptors of process ``pid`` open on ``target``."""
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(target):
                found.append(fd)
    return found


def settles(pid: int, target: Path, timeout: float = 5.0) -> list[str]:
    """``holders`` once the daemon had time to notice a client that went away."""
    deadline = time.monotonic() + timeout
    while (held := holders(pid, target)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return held


@pytest.fixture
def marker(tmp_path: Path) -> Iterator[Path]:
    """A file whose descriptors the tests send: the daemon's open copies of it are easy to count."""
    path = tmp_path / "passed-file"
    path.write_text("passed\n")
    yield path


def raw_client(daemon: PrivateDaemon) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(daemon.socket)
    sock.settimeout(10)
    return sock


def auth_list(serial: int, kind: int = MessageType.CALL, num_fds: int | None = None) -> bytes:
    return bytes(
        encode_message(REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION, AUTH_LIST, kind, serial, Status.OK, num_fds=num_fds)
    )


def read_reply(sock: socket.socket) -> bytes:
    """One whole message, or b"" when the daemon hung up."""
    data = b""
    while len(data) < 4 or len(data) < int.from_bytes(data[:4], "big"):
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:  # closed with our bytes unread: a hang-up too
            return b""
        if not chunk:
            return b""
        data += chunk
    return data


def test_descriptors_of_a_call_that_takes_none_are_closed(pyvirtd: PrivateDaemon, marker: Path) -> None:
    """A CALL_WITH_FDS to any procedure is answered; what it brought is closed, as libvirtd frees it."""
    with raw_client(pyvirtd) as sock, marker.open() as f:
        sock.sendall(auth_list(1, MessageType.CALL_WITH_FDS, num_fds=2))
        send_fd(sock, f.fileno())
        send_fd(sock, f.fileno())
        reply = read_reply(sock)
        assert decode_header(reply)[3:] == (MessageType.REPLY, 1, Status.OK)
        assert holders(daemon_pid(pyvirtd), marker) == []
        sock.sendall(auth_list(2))  # the client stays usable
        assert decode_header(read_reply(sock))[4] == 2


@pytest.mark.parametrize(
    "how",
    ["too many announced", "bytes without their descriptors", "descriptors nobody announced", "gone halfway"],
)
def test_protocol_errors_drop_the_client_and_close_what_it_sent(pyvirtd: PrivateDaemon, marker: Path, how: str) -> None:
    pid = daemon_pid(pyvirtd)
    with raw_client(pyvirtd) as sock, marker.open() as f, contextlib.suppress(BrokenPipeError, ConnectionResetError):
        # (the daemon may hang up while the client still sends: that is the point)
        if how == "too many announced":
            # 33 > VIR_NET_MESSAGE_NUM_FDS_MAX: encode_message refuses it, so the count is written by hand
            message = bytearray(auth_list(1, MessageType.CALL_WITH_FDS, num_fds=0))
            message[28:32] = (33).to_bytes(4, "big")
            sock.sendall(message)
            for _ in range(33):
                send_fd(sock, f.fileno())
        elif how == "bytes without their descriptors":
            sock.sendall(auth_list(1, MessageType.CALL_WITH_FDS, num_fds=2))
            send_fd(sock, f.fileno())
            sock.sendall(b"\0")
        elif how == "descriptors nobody announced":
            fds = array.array("i", [f.fileno()])
            sock.sendmsg([auth_list(1)], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
        else:  # announces two, sends one and leaves
            sock.sendall(auth_list(1, MessageType.CALL_WITH_FDS, num_fds=2))
            send_fd(sock, f.fileno())
            time.sleep(0.2)
            sock.close()
        if how != "gone halfway":
            assert read_reply(sock) == b"", "the daemon answered instead of dropping the client"
        assert settles(pid, marker) == [], f"pyvirtd kept what the client sent ({how})"
    with raw_client(pyvirtd) as other:  # nobody else noticed
        other.sendall(auth_list(7))
        assert decode_header(read_reply(other))[4] == 7


def test_pyvirt_client_through_pyvirtd(pyvirtd: PrivateDaemon, marker: Path) -> None:
    """pyvirt's own client sends them; the test driver takes them and ignores them, as libvirt's does."""
    pid = daemon_pid(pyvirtd)
    with pyvirt.open(pyvirtd.uri()) as conn, marker.open() as f:
        dom = conn.create_xml_with_files(GUEST, [f.fileno(), f.fileno()])
        assert dom.is_active() and dom.id > 0
        dom.destroy()
        test = conn.lookup_domain_by_name("test")
        if test.is_active():
            test.destroy()
        test.create_with_files([f.fileno()])
        assert test.is_active()
        assert holders(pid, marker) == []
        with pytest.raises(ProtocolError, match=r"^Too many FDs to send 33, expected 32 maximum$"):
            test.create_with_files([f.fileno()] * 33)
        with pytest.raises(pyvirt.Error, match=r"^Cannot duplicate FD 4000: Bad file descriptor$"):
            test.create_with_files([4000])
        assert conn.lookup_domain_by_name("test").is_active()  # the connection outlived both refusals


VIRSH_LINES = [
    "destroy test; start test --pass-fds 3,4; domstate test",
    "destroy test; start test --pass-fds 3 --force-boot --paused; domstate test --reason",
    "destroy test; start test --pass-fds 3,x",
    "destroy test; start test --pass-fds ''; domstate test",
    "destroy test; start test --pass-fds ' 3,+4'",
    "destroy test; start test --pass-fds 3,",
    "start test --pass-fds 3",
    "create {guest} --pass-fds 3,4; domstate fdguest; destroy fdguest",
    "create {guest} --pass-fds 4.5",
]


@needs_virsh
@pytest.mark.parametrize("line", VIRSH_LINES)
def test_pass_fds_as_virsh_on_libvirts_test_driver(pyvirtd: PrivateDaemon, marker: Path, tmp_path: Path,
                                                   line: str) -> None:  # fmt: skip
    """Byte for byte: Debian's virsh on libvirt's test driver, the same virsh through pyvirtd, and pyvirsh."""
    guest = tmp_path / "guest.xml"
    guest.write_text(GUEST)
    line = line.format(guest=guest)

    def run(tool: str, uri: str) -> tuple[str, str, int]:
        done = subprocess.run(["sh", "-c", f"'{tool}' -c '{uri}' \"$0\" 3<'{marker}' 4<'{marker}'", line],
                              capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
        return done.stdout, done.stderr, done.returncode

    expected = run("virsh", "test:///default")
    assert run("virsh", pyvirtd.uri()) == expected
    assert holders(daemon_pid(pyvirtd), marker) == []
    assert run(PYVIRSH, "test:///default") == expected


@needs_virsh
def test_read_only_refusal_closes_the_descriptors(pyvirtd: PrivateDaemon, marker: Path, tmp_path: Path) -> None:
    """A read-only client's call is refused (libvirt's words) after its descriptors came: they are closed."""
    guest = tmp_path / "guest.xml"
    guest.write_text(GUEST)

    def virsh(uri: str) -> tuple[str, str, int]:
        line = f"create {guest} --pass-fds 3"
        done = subprocess.run(["sh", "-c", f"virsh -r -c '{uri}' \"$0\" 3<'{marker}'", line],
                              capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
        return done.stdout, done.stderr, done.returncode

    got = virsh(pyvirtd.uri(read_only=True))
    assert got == virsh("test:///default")
    assert "read only access prevents virDomainCreateXMLWithFiles" in got[1]
    assert holders(daemon_pid(pyvirtd), marker) == []


# ---------------------------------------------------------------- the other way: pyvirt's client, libvirt's daemon

LIBVIRTD = "/usr/sbin/libvirtd"


@pytest.fixture(scope="module")
def libvirtd_socket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Debian's libvirtd 9.0 on a private unix socket (its own /run/libvirt; only the built-in test driver)."""
    if not os.path.exists(LIBVIRTD) or shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and Debian's libvirtd 9.0 (libvirt-daemon)")
    work = tmp_path_factory.mktemp("libvirtd")
    (work / "sock").mkdir()
    (work / "drivers").mkdir()
    conf = work / "libvirtd.conf"
    conf.write_text(f'unix_sock_dir = "{work / "sock"}"\nauth_unix_rw = "none"\nauth_unix_ro = "none"\n')
    script = f"mount -t tmpfs tmpfs /run/libvirt && exec {LIBVIRTD} --config {conf}"
    os.makedirs("/run/libvirt", exist_ok=True)
    with open(work / "libvirtd.log", "wb") as log:
        proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LIBVIRT_DRIVER_DIR": str(work / "drivers")},
            stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    sock = work / "sock" / "libvirt-sock"
    try:
        deadline = time.monotonic() + 30
        while not sock.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("libvirtd did not start: " + (work / "libvirtd.log").read_text())
            time.sleep(0.05)
        yield sock
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_pyvirt_client_sends_descriptors_libvirtd_takes(libvirtd_socket: Path, marker: Path) -> None:
    """libvirtd reads pyvirt's CALL_WITH_FDS as its own (a wrong count or a missing descriptor would hang or
    drop the call), answers it, and keeps none of them: its test driver ignores them, as pyvirt's does."""
    with pyvirt.open(f"test+unix:///default?socket={libvirtd_socket}") as conn, marker.open() as f:
        libvirtd_pid = int(
            subprocess.run(["pgrep", "-f", f"^{LIBVIRTD} --config {libvirtd_socket.parent.parent}"],
                           capture_output=True, text=True, check=True).stdout.split()[0]
        )  # fmt: skip
        dom = conn.create_xml_with_files(GUEST, [f.fileno(), f.fileno()])
        assert dom.is_active()
        dom.destroy()
        test = conn.lookup_domain_by_name("test")
        test.destroy()
        test.create_with_files([f.fileno()], 0)
        assert test.is_active()
        assert holders(libvirtd_pid, marker) == []
        with pytest.raises(pyvirt.Error) as err:  # libvirt's test driver takes no flags here
            test.create_with_files([f.fileno()], 1)
        with pyvirt.open("test:///default") as local, pytest.raises(pyvirt.Error) as ours:
            local.lookup_domain_by_name("test").create_with_files([f.fileno()], 1)
        assert (err.value.code, err.value.message) == (ours.value.code, ours.value.message)
        assert err.value.message == "unsupported flags (0x1) in function testDomainCreateWithFlags"
