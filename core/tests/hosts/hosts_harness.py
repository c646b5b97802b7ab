"""Several "hosts" on one machine for tests: network namespaces on a test bridge, each with its own pyvirtd and sshd.

Topology, all made and removed by the test (nothing else on the machine is
touched, and no packet leaves it)::

    root namespace: bridge pvbTAG, 198.18.N.1/24  (the test process, virsh, pyvirsh)
      +-- veth --> namespace pvTAGa: eth0 198.18.N.2/24, lo   (host "a")
      +-- veth --> namespace pvTAGb: eth0 198.18.N.3/24, lo   (host "b")

198.18.0.0/15 is reserved for network benchmarks (RFC 2544), so no real
network uses it; N is picked from the /24s no interface here has yet, so
concurrent test runs do not collide. Each host runs ``pyvirtd --root DIR``
inside its namespace (its sockets under DIR/run/pyvirt, its certificates
under DIR/etc/pki) and, when asked, an sshd on port 22 of its own address
with a generated host key, one authorized key, and a PATH whose first
directory holds ``pyvirt-ssh-helper`` and ``virt-ssh-helper`` wrappers
pointing at that host's daemon.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from pyvirt.daemon.instance import PrivateDaemon

__all__ = ["HostDaemon", "SshIdentity", "TestHost", "TestNetwork"]

_SSHD = "/usr/sbin/sshd"


def _ip(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *argv], check=check, capture_output=True, text=True, timeout=30)


class HostDaemon(PrivateDaemon):
    """``pyvirtd --root DIR`` inside a test host's network namespace."""

    def __init__(self, netns: str, root: Path, *args: str) -> None:
        super().__init__(root, *args)
        self.prefix = ("ip", "netns", "exec", netns)


class SshIdentity:
    """A client key pair and a known_hosts file, both private to the test."""

    def __init__(self, base: Path) -> None:
        base.mkdir(parents=True, exist_ok=True)
        self.key = base / "id_ed25519"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pyvirt-test", "-f", str(self.key)],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        self.public = Path(f"{self.key}.pub").read_text()
        self.known_hosts = base / "known_hosts"
        self.known_hosts.write_text("")
        # An ssh for ?command= (virsh passes no -i or known_hosts options to its ssh): the test's key and
        # known_hosts only, never root's own ~/.ssh.
        self.config = base / "ssh_config"
        self.config.write_text(
            f"IdentityFile {self.key}\nIdentitiesOnly yes\nUserKnownHostsFile {self.known_hosts}\n"
            "GlobalKnownHostsFile /dev/null\nStrictHostKeyChecking yes\nBatchMode yes\nConnectTimeout 10\n"
        )
        self.ssh = base / "ssh"
        self.ssh.write_text(f'#!/bin/sh\nexec ssh -F {self.config} "$@"\n')
        self.ssh.chmod(0o755)


class TestHost:
    """One host: a network namespace with an address, a pyvirtd root, optionally an sshd."""

    __test__ = False  # a helper, not a test class

    def __init__(self, network: TestNetwork, name: str, address: str, root: Path) -> None:
        self.network = network
        self.name = name
        self.netns = f"pv{network.tag}{name}"
        self.address = address
        self.root = root
        self.daemon: HostDaemon | None = None
        self._sshds: list[subprocess.Popen[bytes]] = []
        self.bin = root / "bin"  # first in the PATH sshd gives sessions: the helpers for this host's daemon
        self._veth = f"pv{network.tag}{name}"

    def argv(self, *argv: str) -> list[str]:
        """``argv`` run inside this host's namespace."""
        return ["ip", "netns", "exec", self.netns, *argv]

    def _create(self) -> None:
        _ip("netns", "add", self.netns)
        _ip("link", "add", self._veth, "type", "veth", "peer", "name", "eth0", "netns", self.netns)
        _ip("link", "set", self._veth, "master", self.network.bridge, "up")
        _ip("-n", self.netns, "addr", "add", f"{self.address}/24", "dev", "eth0")
        _ip("-n", self.netns, "link", "set", "lo", "up")
        _ip("-n", self.netns, "link", "set", "eth0", "up")
        self.root.mkdir(parents=True, exist_ok=True)
        self.bin.mkdir(exist_ok=True)
        # the console script pip installed, as a host's users have it (python -m would add runpy's imports)
        script = Path(sys.executable).parent / "pyvirt-ssh-helper"
        program = str(script) if script.exists() else f"{sys.executable} -m pyvirt.remote.ssh_helper"
        helper = f'#!/bin/sh\nexec {program} --root {self.root} "$@"\n'
        for name in ("pyvirt-ssh-helper", "virt-ssh-helper"):
            (self.bin / name).write_text(helper)
            (self.bin / name).chmod(0o755)

    def link(self, up: bool) -> None:
        """Cut (or restore) the host's only link: to everyone else it is as if it died."""
        _ip("-n", self.netns, "link", "set", "eth0", "up" if up else "down")

    def start_pyvirtd(self, config: str = "", *args: str) -> HostDaemon:
        """This host's pyvirtd, with ``config`` as its pyvirtd.conf, serving until the network is closed."""
        conf = self.root / "etc" / "pyvirt" / "pyvirtd.conf"
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(config)
        self.daemon = HostDaemon(self.netns, self.root, *args)
        self.daemon.start()
        return self.daemon

    def close_daemon(self) -> None:
        """Stop this host's pyvirtd (SIGTERM, as a clean shutdown), if one runs."""
        if self.daemon is not None:
            self.daemon.stop()
            self.daemon = None

    def daemon_log(self) -> str:
        return self.daemon.log() if self.daemon is not None else ""

    def start_sshd(
        self, identity: SshIdentity, *, port: int = 22, path: str | None = None, mount_setup: str = ""
    ) -> int:
        """An sshd on ``address:port`` that lets ``identity`` in as root; its host key goes to known_hosts.

        ``path`` replaces the PATH of sessions (default: this host's helper
        directory, then the system's). ``mount_setup``, shell commands, runs
        first in a mount namespace of the sshd's own (a benchmark hides the
        machine's ``/root/.bashrc`` from sessions that way).
        """
        base = self.root / f"sshd-{port}"
        base.mkdir(parents=True, exist_ok=True)
        hostkey = base / "ssh_host_ed25519_key"
        if not hostkey.exists():
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(hostkey)],
                check=True, capture_output=True, timeout=30,
            )  # fmt: skip
        (base / "authorized_keys").write_text(identity.public)
        session_path = path or f"{self.bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        config = base / "sshd_config"
        config.write_text(
            f"Port {port}\nListenAddress {self.address}\nHostKey {hostkey}\nPidFile {base}/sshd.pid\n"
            f"AuthorizedKeysFile {base}/authorized_keys\nPermitRootLogin prohibit-password\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
            f"SetEnv PATH={session_path}\nLogLevel ERROR\nMaxStartups 50\n"
        )
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
        log = open(base / "sshd.log", "ab")  # noqa: SIM115 - sshd keeps its own copy
        with log:
            if mount_setup:
                script = f"{mount_setup} && exec {_SSHD} -D -e -f {config}"
                argv = self.argv("unshare", "-m", "--propagation", "private", "sh", "-c", script)
            else:
                argv = self.argv(_SSHD, "-D", "-e", "-f", str(config))
            proc = subprocess.Popen(argv, stdout=log, stderr=log)
        self._sshds.append(proc)
        key = Path(f"{hostkey}.pub").read_text().split()[:2]
        host = self.address if port == 22 else f"[{self.address}]:{port}"
        with open(identity.known_hosts, "a") as known:
            known.write(f"{host} {' '.join(key)}\n")
        deadline = time.monotonic() + 20
        while (
            subprocess.run(
                self.argv("ss", "-Hltn", f"sport = :{port}"), check=False, capture_output=True, text=True
            ).stdout
            == ""
        ):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sshd on {self.name} did not start:\n{(base / 'sshd.log').read_text()}")
            time.sleep(0.05)
        return port

    def close(self) -> None:
        self.close_daemon()
        for proc in self._sshds:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self._sshds.clear()
        _ip("link", "del", self._veth, check=False)
        _ip("netns", "del", self.netns, check=False)


class TestNetwork:
    """A test bridge in a free 198.18.N.0/24 and the hosts on it; a context manager that removes it all."""

    __test__ = False  # a helper, not a test class

    def __init__(self, base: Path) -> None:
        self.base = base
        self.tag = f"{os.getpid() % 0xFFFF:04x}"
        self.bridge = f"pvb{self.tag}"
        self.hosts: dict[str, TestHost] = {}
        used = set(re.findall(r"198\.1[89]\.(\d+)\.", _ip("-4", "addr").stdout))
        free = [n for n in range(1, 255) if str(n) not in used]
        self.subnet = random.choice(free)
        self.gateway = f"198.18.{self.subnet}.1"

    def __enter__(self) -> TestNetwork:
        _ip("link", "add", self.bridge, "type", "bridge")
        try:
            _ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
        except BaseException:
            self.close()
            raise
        return self

    def add_host(self, name: str) -> TestHost:
        address = f"198.18.{self.subnet}.{2 + len(self.hosts)}"
        host = TestHost(self, name, address, self.base / name)
        self.hosts[name] = host
        host._create()
        return host

    def close(self) -> None:
        for host in self.hosts.values():
            with contextlib.suppress(Exception):
                host.close()
        _ip("link", "del", self.bridge, check=False)

    def __exit__(self, *exc: object) -> None:
        self.close()


def have_tools() -> str | None:
    """Why the harness cannot run here (not root, a program missing), or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for program in ("ip", "ssh", "ssh-keygen", "openssl", "ss"):
        if shutil.which(program) is None:
            return f"'{program}' is not installed"
    if not os.path.exists(_SSHD):
        return "sshd is not installed (Debian package openssh-server)"
    return None
