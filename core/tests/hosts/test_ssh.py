"""``+ssh``: pyvirt's client and Debian's virsh reach a pyvirt host through its sshd, as users reach libvirt hosts.

Host ``a`` runs pyvirtd and an sshd whose sessions find ``pyvirt-ssh-helper``
(and the same program as ``virt-ssh-helper``, which is what virsh asks the
far shell for). Host ``b`` runs an sshd but no pyvirtd, and a second sshd
whose sessions have no helper at all.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hosts_harness import SshIdentity, TestHost, TestNetwork

import pyvirt
from pyvirt.errors import Error, ErrorCode
from pyvirt.remote.ssh import helper_command, ssh_argv
from pyvirt.uri import parse_uri

_BARE_PORT = 2222
# ssh ended before the daemon answered: libvirt's read error (EOF, or a reset when ssh left our data unread),
# followed by what ssh or the far shell wrote on stderr
_LOST = r"(?s)(End of file while reading data|Cannot recv data|Cannot write data): .*"
_PYVIRSH = os.path.join(os.path.dirname(sys.executable), "pyvirsh")

needs_qemu_driver = pytest.mark.skipif(
    importlib.util.find_spec("pyvirt_qemu") is None,
    reason="the core tested alone (tox -e core) has no QEMU driver: needs pyvirt-qemu installed",
)


@pytest.fixture(scope="module")
def host_a(network: TestNetwork, identity: SshIdentity) -> Iterator[TestHost]:
    a = network.hosts["a"]
    a.start_pyvirtd()
    a.start_sshd(identity)
    yield a
    a.close_daemon()


@pytest.fixture(scope="module")
def host_b(network: TestNetwork, identity: SshIdentity, tmp_path_factory: pytest.TempPathFactory) -> TestHost:
    b = network.hosts["b"]
    b.start_sshd(identity)
    bare = tmp_path_factory.mktemp("bare-path")
    os.symlink("/bin/sh", bare / "sh")  # a shell, and nothing else: no helper, no nc
    b.start_sshd(identity, port=_BARE_PORT, path=str(bare))
    return b


def _ours(host: TestHost, identity: SshIdentity, driver: str = "test", path: str = "/default", extra: str = "") -> str:
    return (
        f"{driver}+ssh://root@{host.address}{path}?keyfile={identity.key}&known_hosts={identity.known_hosts}"
        f"&no_tty=1{extra}"
    )


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LC_ALL="C")
    return subprocess.run(list(argv), check=False, capture_output=True, text=True, timeout=120, env=env)


def _ssh_children() -> list[str]:
    """ssh processes this test process started and has not reaped: a failed open must leave none."""
    argv = ["ps", "-ww", "-o", "pid=,stat=,args=", "--ppid", str(os.getpid())]
    out = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=30).stdout
    return [line for line in out.splitlines() if " ssh " in f" {line} " or line.split()[2:3] == ["ssh"]]


def _helpers_on(host: TestHost, timeout: float = 10.0) -> list[str]:
    """The far side's helpers still running for ``host``: once the client has closed, none may be left."""
    deadline = time.monotonic() + timeout
    while True:
        argv = ["ps", "-ww", "-eo", "pid=,args="]  # -ww: whole command lines, however long
        out = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=30).stdout
        left = [
            line for line in out.splitlines() if re.search(rf"ssh[-_]helper --root {re.escape(str(host.root))}\b", line)
        ]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def test_pyvirt_lists_domains_over_ssh(host_a: TestHost, identity: SshIdentity) -> None:
    with pyvirt.open(_ours(host_a, identity)) as conn:
        assert [d.name for d in conn.list_all_domains()] == ["test"]
        assert conn.list_all_domains()[0].info().state == 1  # VIR_DOMAIN_RUNNING
        assert len(_helpers_on(host_a, 0)) == 1
    assert not _ssh_children()
    assert not _helpers_on(host_a)


@needs_qemu_driver
def test_virsh_and_pyvirsh_agree_over_ssh(host_a: TestHost, identity: SshIdentity) -> None:
    """What Debian's virsh runs on the far host (virt-ssh-helper URI) reaches pyvirtd; pyvirsh prints the same."""
    for uri in (f"test+ssh://root@{host_a.address}/default", f"qemu+ssh://root@{host_a.address}/system"):
        virsh = _run("virsh", "-c", f"{uri}?command={identity.ssh}", "list", "--all")
        assert virsh.returncode == 0, virsh.stderr
        mine = _run(_PYVIRSH, "-c", f"{uri}?command={identity.ssh}", "list", "--all")
        assert mine.returncode == 0, mine.stderr
        assert mine.stdout == virsh.stdout
    assert "test" in virsh.stdout or virsh.stdout.startswith(" Id")


def test_read_only_over_ssh_refuses_writes(host_a: TestHost, identity: SshIdentity) -> None:
    with pyvirt.open_readonly(_ours(host_a, identity)) as conn:
        dom = conn.list_all_domains()[0]
        with pytest.raises(Error) as exc:
            dom.suspend()
        assert exc.value.code == ErrorCode.OPERATION_DENIED
    virsh = _run("virsh", "-r", "-c", f"test+ssh://root@{host_a.address}/default?command={identity.ssh}", "suspend",
                 "test")  # fmt: skip
    assert virsh.returncode == 1 and "read only access prevents virDomainSuspend" in virsh.stderr


def test_key_refused(host_a: TestHost, identity: SshIdentity, tmp_path: Path) -> None:
    stranger = SshIdentity(tmp_path)
    uri = (
        f"test+ssh://root@{host_a.address}/default?keyfile={stranger.key}&known_hosts={identity.known_hosts}"
        "&no_tty=1&command=" + str(_isolated_ssh(tmp_path))
    )
    with pytest.raises(Error, match=_LOST + r"Permission denied \(publickey\)") as exc:
        pyvirt.open(uri)
    assert exc.value.code == ErrorCode.SYSTEM_ERROR
    assert not _ssh_children()


def _isolated_ssh(tmp_path: Path) -> Path:
    """ssh that ignores root's own keys and config, so only the URI's keyfile is offered."""
    script = tmp_path / "ssh-isolated"
    script.write_text('#!/bin/sh\nexec ssh -F /dev/null -o IdentitiesOnly=yes -o IdentityAgent=none "$@"\n')
    script.chmod(0o755)
    return script


def test_unknown_host_key_refused_unless_no_verify(host_a: TestHost, identity: SshIdentity, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    base = f"test+ssh://root@{host_a.address}/default?keyfile={identity.key}&known_hosts={empty}&no_tty=1"
    with pytest.raises(Error, match=_LOST + "Host key verification failed"):
        pyvirt.open(base)
    with pyvirt.open(base + "&no_verify=1") as conn:
        assert conn.list_all_domains()[0].name == "test"


def test_helper_missing_or_daemon_down_on_the_far_side(host_b: TestHost, identity: SshIdentity) -> None:
    bare = f"test+ssh://root@{host_b.address}:{_BARE_PORT}/default?keyfile={identity.key}"
    bare += f"&known_hosts={identity.known_hosts}&no_tty=1"
    with pytest.raises(Error, match=_LOST + "sh: 1: exec: nc: not found"):
        pyvirt.open(bare)
    with pytest.raises(Error, match="no pyvirt-ssh-helper or virt-ssh-helper on this host"):
        pyvirt.open(bare + "&proxy=native")
    # the helper is there, pyvirtd is not: the helper's own error, as virt-ssh-helper words it (the socket's path)
    sock = re.escape(str(host_b.root / "run" / "pyvirt" / "pyvirt-sock"))
    with pytest.raises(
        Error, match=rf"pyvirt-ssh-helper: cannot connect to '{sock}': Failed to connect socket to '{sock}': No such"
    ):
        pyvirt.open(_ours(host_b, identity))
    assert not _ssh_children()


def test_unknown_host(identity: SshIdentity) -> None:
    start = time.monotonic()
    with pytest.raises(Error, match=_LOST + "ssh: Could not resolve hostname no-such-host.invalid"):
        pyvirt.open(f"test+ssh://root@no-such-host.invalid/default?keyfile={identity.key}&no_tty=1")
    assert time.monotonic() - start < 30


def test_command_lines_are_libvirts() -> None:
    uri = parse_uri(
        "qemu+ssh://admin@host.example:2022/system?keyfile=/k&no_verify=1&no_tty=1&known_hosts=/kh&command=/my/ssh"
    )
    assert ssh_argv(uri, "CMD") == [
        "/my/ssh", "-p", "2022", "-l", "admin", "-i", "/k", "-T", "-e", "none", "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/kh", "--", "host.example", "CMD",
    ]  # fmt: skip
    auto = helper_command("qemu:///system", True, "auto", None, "/run/pyvirt/pyvirt-sock-ro")
    assert "exec pyvirt-ssh-helper -r qemu:///system" in auto and "-U /run/pyvirt/pyvirt-sock-ro" in auto
    netcat = helper_command("qemu:///system", False, "auto", "/opt/netcat", "/s")
    assert "helper" not in netcat and "exec /opt/netcat $ARG -U /s" in netcat
