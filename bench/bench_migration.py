"""Two pyvirtd hosts beside two libvirtd 9.0 hosts (Debian's), same machine, same run (issue 18, item 6).

  1. Live migration of the same idle 256 MiB TCG guest from host to host: the wall time of the client's
     whole ``migrate --live`` command (pyvirsh between the pyvirtd hosts, virsh between the libvirtd
     hosts) and the guest's downtime as QEMU measured it (query-migrate's ``downtime``, which both
     daemons report as ``domjobinfo --completed``'s "Total downtime"). Target: <= 1.0x libvirt's.
  2. ``list --all`` over ``qemu+ssh://`` through an ssh connection that is already authenticated (one
     ssh ControlMaster per host, ControlPersist, reached by both clients through ``?command=``):
     pyvirsh against a pyvirtd host, virsh against a libvirtd host. Target: <= 1.2x virsh's.

Every host is a network namespace on one test bridge (the test suite's harness,
``core/tests/hosts/hosts_harness.py``: 198.18.N.0/24, nothing leaves the machine). A pyvirt host runs
``pyvirtd --root DIR`` there; a libvirt host runs libvirtd there inside its own mount and UTS
namespaces (its own hostname and host_uuid, since libvirt refuses a migration to a host with the same
name or UUID; state directories bind-mounted from the run's directory; guests as root without a
security driver, the terms pyvirtd runs them on here), and for item 2 its sshd in the same mount
namespace, so that what virsh runs on the far side (``virt-ssh-helper``) finds that libvirtd's socket.
Migration traffic goes between the hosts' addresses (``--migrateuri tcp://ADDRESS`` on both sides).
Rounds alternate between the two stacks; the figures are medians, ratios pyvirt / libvirt.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

_BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(_BENCH))
sys.path.insert(0, str(_BENCH.parent / "core" / "tests" / "hosts"))
import private_libvirtd  # noqa: E402
from hosts_harness import SshIdentity, TestHost, TestNetwork, have_tools  # noqa: E402

PYVIRSH = shutil.which("pyvirsh", path=os.path.dirname(sys.executable)) or "pyvirsh"
VIRSH = "/usr/bin/virsh"
GUEST = """<domain type='qemu'><name>mig</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices/></domain>"""
ENV = {**os.environ, "LC_ALL": "C"}


def run(argv: list[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=ENV, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stderr}")
    return done


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    run(argv)
    return time.perf_counter() - start


# ---------------------------------------------------------------------- a libvirtd host
class LibvirtHost:
    """libvirtd 9.0 in a test host's network namespace, with a mount and UTS namespace of its own."""

    def __init__(self, host: TestHost, hostname: str) -> None:
        self.host = host
        self.work = host.root / "libvirt"
        self.work.mkdir(parents=True, exist_ok=True)
        self.hostname = hostname
        self.proc: subprocess.Popen[bytes] | None = None
        self.sshd_config: Path | None = None
        self.mount_setup: list[str] = []  # more of the mount namespace's set-up (before sshd starts)

    @property
    def uri(self) -> str:
        return f"qemu+unix:///system?socket={self.work}/state/run-libvirt/libvirt-sock"

    def add_sshd(self, identity: SshIdentity) -> None:
        """An sshd for this host, started in libvirtd's namespaces (so its sessions see libvirtd's socket)."""
        base = self.work / "sshd"
        base.mkdir(exist_ok=True)
        key = base / "ssh_host_ed25519_key"
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)])
        (base / "authorized_keys").write_text(identity.public)
        self.sshd_config = base / "sshd_config"
        self.sshd_config.write_text(
            f"Port 22\nListenAddress {self.host.address}\nHostKey {key}\nPidFile {base}/sshd.pid\n"
            f"AuthorizedKeysFile {base}/authorized_keys\nPermitRootLogin prohibit-password\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
            "LogLevel ERROR\nMaxStartups 50\n"
        )
        public = Path(f"{key}.pub").read_text().split()[:2]
        with open(identity.known_hosts, "a") as known:
            known.write(f"{self.host.address} {' '.join(public)}\n")

    def start(self) -> None:
        work = self.work
        drivers = work / "drivers"
        drivers.mkdir(exist_ok=True)
        so = next(
            Path(d) / "libvirt_driver_qemu.so"
            for d in private_libvirtd.DRIVER_DIRS
            if (Path(d) / "libvirt_driver_qemu.so").exists()
        )
        if not (drivers / so.name).is_symlink():
            (drivers / so.name).symlink_to(so)
        conf = work / "libvirtd.conf"
        conf.write_text(f'auth_unix_rw = "none"\nauth_unix_ro = "none"\nhost_uuid = "{uuid.uuid4()}"\n')
        etc = work / "etc-libvirt"
        shutil.copytree("/etc/libvirt", etc, dirs_exist_ok=True)
        (etc / "qemu.conf").write_text('user = "root"\ngroup = "root"\nsecurity_driver = "none"\n')
        passwd, group = work / "passwd", work / "group"
        passwd.write_text(
            Path("/etc/passwd").read_text() + "libvirt-qemu:x:64055:64055::/var/lib/libvirt:/usr/sbin/nologin\n"
        )
        group.write_text(Path("/etc/group").read_text() + "libvirt-qemu:x:64055:\n")
        setup = ["umount /sys/fs/cgroup/unified 2>/dev/null", f"hostname {self.hostname}"]
        for target in private_libvirtd.STATE_DIRS:
            private = work / "state" / target.strip("/").replace("/", "-")
            private.mkdir(parents=True, exist_ok=True)
            setup.append(f"mkdir -p {target} && mount --bind {private} {target}")
        setup += [f"mount --bind {etc} /etc/libvirt", f"mount --bind {passwd} /etc/passwd",
                  f"mount --bind {group} /etc/group", f"/usr/sbin/virtlogd -d -p {work}/virtlogd.pid"]  # fmt: skip
        setup += self.mount_setup
        if self.sshd_config is not None:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
            setup.append(f"/usr/sbin/sshd -f {self.sshd_config}")  # (daemonizes: the reaper ends it)
        script = "; ".join([*setup, f"exec {private_libvirtd.LIBVIRTD} --config {conf} --pid-file {work}/libvirtd.pid"])
        argv = self.host.argv("unshare", "-m", "-u", "--propagation", "private", "sh", "-c", script)
        with open(work / "libvirtd.log", "wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-c", private_libvirtd._REAPER, *argv],
                                         env={**os.environ, "LIBVIRT_DRIVER_DIR": str(drivers)},
                                         stdout=subprocess.DEVNULL, stderr=log)  # fmt: skip
        sock = work / "state" / "run-libvirt" / "libvirt-sock"
        deadline = time.monotonic() + 30
        while not sock.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("libvirtd did not start: " + (work / "libvirtd.log").read_text()[-2000:])
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            private_libvirtd.stop_libvirtd(self.proc)
            self.proc = None


# ---------------------------------------------------------------------- 1. migration
def pyvirt_uri(host: TestHost) -> str:
    assert host.daemon is not None
    return f"qemu+unix:///system?socket={host.daemon.socket}"


def downtime_ms(client: str, uri: str) -> float:
    """QEMU's downtime of the last migration, as the source's daemon reports it."""
    out = run([client, "-c", uri, "domjobinfo", "--completed", "mig"]).stdout
    match = re.search(r"Total downtime:\s+(\d+)\s+ms", out)
    if match is None:
        raise RuntimeError(f"no downtime in {client}'s domjobinfo --completed:\n{out}")
    return float(match.group(1))


def migrate_round(client: str, src: str, dst: str, dst_address: str, idle: float) -> tuple[float, float]:
    """Start the guest on ``src``, let it settle, migrate it to ``dst``; (wall seconds, downtime ms)."""
    run([client, "-c", src, "start", "mig"])
    time.sleep(idle)
    wall = timed([client, "-c", src, "migrate", "--live", "mig", dst, "--migrateuri", f"tcp://{dst_address}"])
    down = downtime_ms(client, src)
    run([client, "-c", dst, "destroy", "mig"])
    return wall, down


# ---------------------------------------------------------------------- 2. list over ssh
def control_master(identity: SshIdentity, base: Path) -> Path:
    """An ssh program for ``?command=``: the test identity, and one shared, persisting master per host."""
    config = base / "ssh_config_mux"
    config.write_text(
        identity.config.read_text() + f"ControlMaster auto\nControlPath {base}/cm-%C\nControlPersist 120\n"
    )
    ssh = base / "ssh-mux"
    ssh.write_text(f'#!/bin/sh\nexec ssh -F {config} "$@"\n')
    ssh.chmod(0o755)
    return ssh


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="migrations per stack (default 5)")
    parser.add_argument("--list-rounds", type=int, default=20, help="list --all runs per client (default 20)")
    parser.add_argument("--idle", type=float, default=1.0, help="seconds a started guest idles before it moves")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--only", choices=("migrate", "list"), help="run one of the two benchmarks")
    parser.add_argument(
        "--no-bashrc", action="store_true",
        help="hide /root/.bashrc from both hosts' ssh sessions (bash reads it for every command ssh runs: "
        "a slow one, such as pyenv's set-up, raises the floor both clients stand on)",
    )  # fmt: skip
    args = parser.parse_args()
    why = have_tools()
    for program in (VIRSH, private_libvirtd.LIBVIRTD, "/usr/sbin/virtlogd", "/usr/bin/qemu-system-x86_64"):
        if not os.path.exists(program):
            why = why or f"{program} is not installed"
    if why:
        print(f"bench_migration: cannot run here: {why}", file=sys.stderr)
        return 2
    base = Path(tempfile.mkdtemp(prefix="pvbm", dir="/tmp"))  # short: ssh's ControlPath must fit AF_UNIX
    libvirt_hosts: list[LibvirtHost] = []
    results: dict[str, float] = {}
    try:
        with TestNetwork(base / "net") as net:
            try:
                bench(net, base, args, libvirt_hosts, results)
            finally:
                for lh in libvirt_hosts:
                    lh.stop()
                for pid in qemu_pids(base):  # a guest a failed round left on a pyvirt host
                    os.kill(pid, signal.SIGKILL)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    report(args, results)
    return 0


def qemu_pids(base: Path) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if b"qemu-system" in cmdline and f"{base}/".encode() in cmdline:
                found.append(int(entry))
    return found


def bench(
    net: TestNetwork, base: Path, args: argparse.Namespace, libvirt_hosts: list[LibvirtHost], results: dict[str, float]
) -> None:
    migrate = args.only != "list"  # (--only list needs one host of each kind, not two)
    pa, la = net.add_host("a"), net.add_host("c")
    identity = SshIdentity(base / "ssh")
    lc = LibvirtHost(la, f"pvbm-{net.tag}-c")
    libvirt_hosts.append(lc)
    lc.add_sshd(identity)
    hide_bashrc = ""
    if args.no_bashrc and os.path.exists("/root/.bashrc"):
        (base / "empty-bashrc").write_text("")
        hide_bashrc = f"mount --bind {base / 'empty-bashrc'} /root/.bashrc"
        lc.mount_setup.append(hide_bashrc)
    pa.start_pyvirtd()
    if migrate:
        pb, lb = net.add_host("b"), net.add_host("d")
        ld = LibvirtHost(lb, f"pvbm-{net.tag}-d")
        libvirt_hosts.append(ld)
        pb.start_pyvirtd()
    for lh in libvirt_hosts:
        lh.start()
    if migrate:
        bench_migration(args, results, {
            "pyvirt": (PYVIRSH, pyvirt_uri(pa), pyvirt_uri(pb), pb.address),
            "libvirt": (VIRSH, lc.uri, ld.uri, lb.address),
        }, base)  # fmt: skip
    if args.only != "migrate":
        pa.start_sshd(identity, mount_setup=hide_bashrc)
        bench_list(args, results, identity, base, pa.address, la.address)


def bench_migration(
    args: argparse.Namespace, results: dict[str, float], stacks: dict[str, tuple[str, str, str, str]], base: Path
) -> None:
    """Rounds alternate between the stacks; a first untimed round of each warms caches."""
    guest = base / "mig.xml"
    guest.write_text(GUEST)
    for client, src, _dst, _address in stacks.values():
        run([client, "-c", src, "define", str(guest)])
    walls: dict[str, list[float]] = {name: [] for name in stacks}
    downs: dict[str, list[float]] = {name: [] for name in stacks}
    for i in range(args.rounds + 1):
        for name, (client, src, dst, address) in stacks.items():
            wall, down = migrate_round(client, src, dst, address, args.idle)
            if i:
                walls[name].append(wall)
                downs[name].append(down)
    for name in stacks:
        results[f"migrate_wall_s_{name}"] = median(walls[name])
        results[f"migrate_downtime_ms_{name}"] = median(downs[name])


def bench_list(
    args: argparse.Namespace, results: dict[str, float], identity: SshIdentity, base: Path, pyvirt: str, libvirt: str
) -> None:
    """``list --all`` through one authenticated ssh master per host, alternating clients."""
    ssh = control_master(identity, base)
    uris = {
        "pyvirt": (PYVIRSH, f"qemu+ssh://root@{pyvirt}/system?command={ssh}&no_tty=1"),
        "libvirt": (VIRSH, f"qemu+ssh://root@{libvirt}/system?command={ssh}&no_tty=1"),
    }
    lists: dict[str, list[float]] = {name: [] for name in uris}
    try:
        for client, uri in uris.values():  # the masters start here; their login is not timed
            run([client, "-c", uri, "list", "--all"])
        # the floor both clients stand on: one command through the master, nothing else
        results["ssh_true_s"] = median([timed([str(ssh), f"root@{libvirt}", "true"]) for _ in range(5)])
        # what each far side's helper alone adds to that: its start-up (-V answers before any connect)
        for name, (host, helper) in {
            "pyvirt": (pyvirt, "pyvirt-ssh-helper"),
            "libvirt": (libvirt, "virt-ssh-helper"),
        }.items():
            results[f"ssh_helper_s_{name}"] = median(
                [timed([str(ssh), f"root@{host}", helper, "-V"]) for _ in range(5)]
            )
        load_before = os.getloadavg()[0]
        for _ in range(args.list_rounds):
            for name, (client, uri) in uris.items():
                lists[name].append(timed([client, "-c", uri, "list", "--all"]))
        results["load_average"] = (load_before + os.getloadavg()[0]) / 2  # 1-minute, as the rounds ran
    finally:
        for host in (pyvirt, libvirt):  # end the masters
            subprocess.run(["ssh", "-F", str(base / "ssh_config_mux"), "-O", "exit", f"root@{host}"],
                           capture_output=True, timeout=30, check=False)  # fmt: skip
    for name in uris:
        results[f"ssh_list_s_{name}"] = median(lists[name])


def report(args: argparse.Namespace, results: dict[str, float]) -> None:
    ratios: dict[str, tuple[float, float]] = {}
    if "migrate_wall_s_pyvirt" in results:
        ratios["migrate wall"] = (results["migrate_wall_s_pyvirt"] / results["migrate_wall_s_libvirt"], 1.0)
        # (downtimes are whole milliseconds: a libvirt figure of 0 compares as 1)
        ratios["migrate downtime"] = (
            results["migrate_downtime_ms_pyvirt"] / max(results["migrate_downtime_ms_libvirt"], 1.0),
            1.0,
        )
    if "ssh_list_s_pyvirt" in results:
        ratios["list --all over ssh"] = (results["ssh_list_s_pyvirt"] / results["ssh_list_s_libvirt"], 1.2)
    if args.json:
        print(json.dumps({"results": results, "ratios": {k: v[0] for k, v in ratios.items()}}, indent=2))
        return
    if "migrate_wall_s_pyvirt" in results:
        print(f"migrate --live, idle 256 MiB TCG guest, median of {args.rounds}:")
        print(f"  wall      pyvirsh/pyvirtd {results['migrate_wall_s_pyvirt'] * 1000:8.0f} ms   "
              f"virsh/libvirtd {results['migrate_wall_s_libvirt'] * 1000:8.0f} ms")  # fmt: skip
        print(f"  downtime  pyvirtd         {results['migrate_downtime_ms_pyvirt']:8.0f} ms   "
              f"libvirtd       {results['migrate_downtime_ms_libvirt']:8.0f} ms")  # fmt: skip
    if "ssh_list_s_pyvirt" in results:
        print(f"list --all over qemu+ssh (ControlMaster), median of {args.list_rounds}:")
        print(f"  pyvirsh {results['ssh_list_s_pyvirt'] * 1000:8.1f} ms   virsh {results['ssh_list_s_libvirt'] * 1000:8.1f} ms"
              f"   (ssh HOST true through the master: {results['ssh_true_s'] * 1000:.1f} ms)")  # fmt: skip
        print(f"  ssh HOST HELPER -V: pyvirt-ssh-helper {results['ssh_helper_s_pyvirt'] * 1000:.1f} ms   "
              f"virt-ssh-helper {results['ssh_helper_s_libvirt'] * 1000:.1f} ms   "
              f"(load average {results['load_average']:.1f})")  # fmt: skip
    for what, (ratio, target) in ratios.items():
        print(f"ratio {what:22s} {ratio:5.2f}x  (target <= {target:.1f}x) {'ok' if ratio <= target else 'MISSED'}")


if __name__ == "__main__":
    sys.exit(main())
