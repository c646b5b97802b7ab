"""pyvirt demo: the test:/// hypervisor, a real KVM guest (its disk a pool volume, its NIC on a NAT network)
and a real container through pyvirsh, then the host, then pyvirtd with Debian's virsh and pyvirsh side by side.

Run through ``./bootstrap demo``. Every step is checked: the first that fails stops
the demo (what it started is cleaned up) with exit status 1 and a last line saying
which step failed.
"""

from __future__ import annotations

import os
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable

import pyvirt
from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.domain_state import state_text

GUEST = """<domain type='test'>
  <name>demo</name>
  <memory unit='MiB'>256</memory>
  <vcpu>2</vcpu>
  <os><type>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><source file='/var/lib/images/demo.qcow2'/><target dev='vda' bus='virtio'/></disk>
  </devices>
</domain>
"""


KVM_GUEST = """<domain type='{virt}'>
  <name>demo-kvm</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <disk type='volume' device='disk'><driver name='qemu' type='qcow2'/>
      <source pool='demo-images' volume='demo.qcow2'/><target dev='vda' bus='virtio'/></disk>
    <interface type='network'><source network='demo-net'/><model type='virtio'/></interface>
    <serial type='pty'/>
    <graphics type='vnc' autoport='yes'/>
  </devices>
</domain>
"""

POOL = """<pool type='dir'><name>demo-images</name><target><path>{path}</path></target></pool>"""

NETWORK = """<network><name>demo-net</name><forward mode='nat'/><bridge name='pvdemo0'/>
  <ip address='192.168.199.1' prefix='24'><dhcp><range start='192.168.199.10' end='192.168.199.99'/></dhcp></ip>
</network>"""

CONTAINER = """<domain type='lxc'>
  <name>demo-ct</name>
  <memory unit='MiB'>64</memory>
  <os><type>exe</type><init>/bin/sleep</init><initarg>600</initarg></os>
  <devices><console type='pty'/></devices>
</domain>
"""


DAEMON_GUEST = """<domain type='{virt}'>
  <name>demo-daemon</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><serial type='pty'/></devices>
</domain>
"""


class DemoStepError(Exception):
    """A demo step failed; the message is the one-line summary printed at the end.

    ``errors`` are the ``error:`` lines a failed command printed, for a step that expects a refusal.
    """

    def __init__(self, message: str, errors: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.errors = errors


def pyvirsh(*args: str) -> str:
    """Run pyvirsh as a user would, show its output, and stop the demo if any of its commands failed.

    A failure is a non-zero exit status or an ``error:`` line: pyvirsh, like
    virsh, goes on after a failed command in a ``"cmd1; cmd2"`` line and
    exits with the last command's status, which once let the demo report
    success while every KVM step had failed. Both streams come through one
    pipe, in the order pyvirsh wrote them. Returns what it printed.
    """
    return _step("pyvirsh", [sys.executable, "-m", "pyvirt.cli.main"], args)


def virsh(*args: str) -> str:
    """Debian's ``virsh`` (libvirt 9.0's own client, no pyvirt in it), shown and checked like :func:`pyvirsh`."""
    _need_virsh()
    return _step("virsh", ["virsh"], args)


def _need_virsh() -> None:
    if shutil.which("virsh") is None:
        raise DemoStepError("'virsh' is not installed (Debian's libvirt-clients; ./bootstrap installs it)")


def refused(tool: str, *args: str, expect: str) -> None:
    """A step that must fail: ``tool`` (``virsh`` or ``pyvirsh``) has to exit non-zero with ``expect`` in an error line.

    Succeeding, or failing for another reason, fails the demo: a read-only
    socket that let a ``destroy`` through is exactly what the demo is there to catch.
    """
    try:
        (virsh if tool == "virsh" else pyvirsh)(*args)
    except DemoStepError as exc:
        if any(expect in error for error in exc.errors):
            print("(refused, as it must be)", flush=True)
            return
        raise DemoStepError(f"{exc} (expected the refusal: {expect})") from None
    raise DemoStepError(f"'{tool} {shlex.join(args)}' succeeded; it must be refused with: {expect}")


def _step(name: str, argv: list[str], args: tuple[str, ...]) -> str:
    """Run one client command, show its output as it comes, raise :class:`DemoStepError` when it failed."""
    line = shlex.join(args)
    print(f"$ {name} {line}", flush=True)
    proc = subprocess.Popen([*argv, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    errors = []
    shown = []
    with proc.stdout:
        for out in proc.stdout:
            print(out, end="", flush=True)
            shown.append(out)
            if out.startswith("error: "):
                errors.append(out.strip())
    status = proc.wait()
    if status != 0 or errors:
        why = "".join(f": {e.removeprefix('error: ')}" for e in errors)  # virsh's "Failed to X" then the reason
        raise DemoStepError(f"'{name} {line}' failed (exit status {status}){why}", tuple(errors))
    return "".join(shown)


def pyvirsh_each(uri: str, *commands: str) -> None:
    """``pyvirsh -c URI`` once per command, in order: the first failure stops the rest."""
    for command in commands:
        pyvirsh("-c", uri, *shlex.split(command))


def run(demo: Callable[[], None]) -> int:
    """Run ``demo``; the first failed step stops it with status 1 and one line saying what failed.

    The demo's own ``finally`` blocks (networks, pools, guests) have run by
    the time the summary is printed.
    """
    try:
        demo()
    except DemoStepError as exc:
        summary = str(exc)
    except pyvirt.Error as exc:
        summary = f"{type(exc).__name__}: {exc.message}"
    else:
        print("== demo finished: every step succeeded ==", flush=True)
        return 0
    print(f"demo failed: {summary}", file=sys.stderr, flush=True)
    return 1


def _test_driver() -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as f:
        f.write(GUEST)
    try:  # test:/// keeps its state per process: one pyvirsh run for the whole story
        pyvirsh("-c", "test:///default", f"list --all; define {f.name}; start demo; list --all; dominfo demo")
    finally:
        os.unlink(f.name)


def _python_api() -> None:
    print("== the same from Python ==")
    with pyvirt.open("test:///default") as conn:
        events: list[pyvirt.LifecycleEvent] = []
        conn.register_domain_event(events.append)
        dom = conn.define_domain(GUEST)
        dom.create()
        dom.suspend()
        print(f"  {dom.name}: {state_text(dom.state()[0])}, id {dom.id}, {dom.info().memory_kib} KiB")
        dom.destroy()
        print("  events:", ", ".join(f"{e.event}/{e.detail}" for e in events))


def _clean_up(uri: str) -> None:
    """Stop what the demo started on ``uri``: guests, networks (a bridge, dnsmasq, firewall tables are host-wide), pools."""
    with pyvirt.open(uri) as conn:
        for dom in conn.list_all_domains():
            if dom.is_active():
                dom.destroy()
        if uri.startswith("qemu:"):
            for net in conn.list_all_networks():
                if net.is_active():
                    net.destroy()
            for pool in conn.list_all_storage_pools():
                if pool.is_active():
                    pool.destroy()


def _host(tmp: str) -> None:
    virt = "kvm" if os.access("/dev/kvm", os.R_OK | os.W_OK) else "qemu"  # TCG without /dev/kvm
    files = {name: os.path.join(tmp, f"{name}.xml") for name in ("kvm", "ct", "pool", "net")}
    for name, text in (("kvm", KVM_GUEST.format(virt=virt)), ("ct", CONTAINER),
                       ("pool", POOL.format(path=os.path.join(tmp, "images"))), ("net", NETWORK)):  # fmt: skip
        with open(files[name], "w") as out:
            out.write(text)
    uri = f"qemu:///embed?root={tmp}/qemu"
    print(f"== a real {virt.upper()} guest on an embedded root (firmware only: no OS to install), its disk a ==")
    print("== volume of a storage pool, its NIC on a NAT network with DHCP (pyvirt-storage, pyvirt-network) ==")
    try:
        pyvirsh_each(uri,
                     f"pool-create {files['pool']} --build", "vol-create-as demo-images demo.qcow2 64M --format qcow2",
                     "vol-list demo-images --details", f"net-create {files['net']}", "net-list",
                     f"define {files['kvm']}", "start demo-kvm", "list --all", "dominfo demo-kvm", "domblklist demo-kvm",
                     "domiflist demo-kvm", "vncdisplay demo-kvm", "domstats --block demo-kvm",
                     "snapshot-create-as demo-kvm first", "snapshot-list demo-kvm", "destroy demo-kvm",
                     "undefine demo-kvm --snapshots-metadata")  # fmt: skip
    finally:
        _clean_up(uri)
    print("== a container sharing the host's root read-only ==")
    lxc = f"lxc:///embed?root={tmp}/lxc"
    try:
        pyvirsh_each(lxc, f"create {files['ct']}", "list", "dominfo demo-ct", "destroy demo-ct")
    finally:
        _clean_up(lxc)


class EventWatcher:
    """``TOOL -c URI event --loop`` in the background, its output collected for the demo to wait on and show.

    A watcher sees only what happens after it registered, and neither virsh
    nor pyvirsh says when that is; :meth:`wait_for` lets the demo wait for
    the event it expects instead of guessing with a sleep.
    """

    def __init__(self, name: str, argv: list[str], uri: str) -> None:
        self.name = name
        self.args = ("-c", uri, "event", "--loop", "--timeout", "300", "--event", "lifecycle")
        print(f"$ {name} {shlex.join(self.args)} &", flush=True)
        self.proc = subprocess.Popen([*argv, *self.args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:
            for line in self.proc.stdout:
                with self._changed:
                    self.lines.append(line.rstrip("\n"))
                    self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, text: str, times: int = 1, timeout: float = 60) -> bool:
        """True once ``text`` has appeared in ``times`` lines; False when the watcher exited or time ran out first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while sum(text in line for line in self.lines) < times:
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    return False
                self._changed.wait(min(left, 0.5))
        return True

    def stop(self) -> int:
        """Ctrl-C, as a user ends ``event --loop``; its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            status = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            status = self.proc.wait()
        self._reader.join(10)
        return status


def _qemus(root: str) -> dict[int, str]:
    """Live QEMU processes whose command line names ``root``: pid -> guest name."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if b"qemu-system" in args[0] and any(root.encode() in a for a in args):  # a zombie's cmdline is empty
            name = next((a.split(b",")[0][6:].decode() for a in args if a.startswith(b"guest=")), "?")
            found[int(entry)] = name
    return found


def _kill_qemus(root: str) -> None:
    """Kill every QEMU a failed demo left under ``root`` and wait until each has exited (PID 1 here reaps late)."""
    for pid, name in _qemus(root).items():
        print(f"cleanup: killing the leftover QEMU of '{name}' (pid {pid})", flush=True)
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
            select.select([fd], [], [], 30)  # readable once the process has exited
        except ProcessLookupError:
            pass
        finally:
            os.close(fd)


def _guest_qemu(root: str, name: str) -> int:
    """The pid of the one QEMU running guest ``name`` under ``root``; any other count fails the demo."""
    pids = [pid for pid, guest in _qemus(root).items() if guest == name]
    if len(pids) != 1:
        raise DemoStepError(f"expected one QEMU for '{name}', found {len(pids)} ({pids})")
    return pids[0]


def _start_daemon(daemon: PrivateDaemon) -> None:
    print(f"$ pyvirtd --root {daemon.root} &", flush=True)
    try:
        daemon.start()
    except RuntimeError as exc:  # what went wrong is at the end of the daemon's log, which the message carries
        print(exc, flush=True)
        lines = [line for line in str(exc).splitlines() if line.strip()]
        raise DemoStepError(f"{lines[0]} {lines[-1]}" if len(lines) > 1 else lines[0]) from None
    assert daemon.proc is not None
    print(f"pyvirtd {daemon.proc.pid} serving on {daemon.socket} and {daemon.ro_socket}", flush=True)


def _stop_daemon(daemon: PrivateDaemon) -> None:
    assert daemon.proc is not None
    print(f"$ kill -TERM {daemon.proc.pid}   # pyvirtd", flush=True)
    status = daemon.stop()
    if status != 0:  # None: still there after 30 s, and killed
        print(daemon.log(), flush=True)
        raise DemoStepError(f"pyvirtd did not stop cleanly on SIGTERM (exit status {status})")
    print("pyvirtd exited with status 0", flush=True)


def _await_events(watchers: list[EventWatcher], text: str, times: int = 1) -> None:
    for w in watchers:
        if not w.wait_for(text, times):
            raise DemoStepError(f"'{w.name} event --loop' did not see '{text}' (it printed: {w.lines})")


def _until_watching(watchers: list[EventWatcher], uri: str, xml: str) -> None:
    """Wait until every watcher has seen the guest's definition, defining it again for one that registered late.

    A redefinition of an unchanged guest is libvirt's "Defined Updated"
    event and changes nothing else.
    """
    deadline = time.monotonic() + 120
    with pyvirt.open(uri) as conn:
        while not all(w.wait_for("Defined", timeout=3) for w in watchers):
            for w in watchers:
                if w.proc.poll() is not None:
                    raise DemoStepError(f"'{w.name} {shlex.join(w.args)}' exited with status {w.proc.returncode}: "
                                        + " ".join(filter(None, w.lines)))  # fmt: skip
            if time.monotonic() > deadline:
                raise DemoStepError("an event watcher saw no 'Defined' event in 120 s")
            conn.define_domain(xml)


def _pyvirtd(tmp: str) -> None:
    """One private pyvirtd; Debian's virsh and pyvirsh both talk to it, and see each other's work."""
    virt = "kvm" if os.access("/dev/kvm", os.R_OK | os.W_OK) else "qemu"  # TCG without /dev/kvm
    guest_xml = os.path.join(tmp, "daemon-guest.xml")
    with open(guest_xml, "w") as out:
        out.write(DAEMON_GUEST.format(virt=virt))
    mode = "system" if os.geteuid() == 0 else "session"
    daemon = PrivateDaemon(os.path.join(tmp, "pyvirtd"))
    qemu, test = daemon.uri(f"qemu:///{mode}"), daemon.uri("test:///default")
    read_only = daemon.uri(f"qemu:///{mode}", read_only=True)
    _need_virsh()
    print("== pyvirtd: one resident daemon owns the drivers; Debian's virsh (libvirt 9.0's client, unchanged) ==")
    print("== and pyvirsh (pyvirt's remote driver) speak libvirt's RPC protocol to it, side by side ==")
    watchers: list[EventWatcher] = []
    try:
        _start_daemon(daemon)
        # Registered first, so that they are listening by the time the guest is defined.
        watchers = [EventWatcher("pyvirsh", [sys.executable, "-m", "pyvirt.cli.main"], qemu),
                    EventWatcher("virsh", ["virsh"], qemu)]  # fmt: skip
        for tool in (virsh, pyvirsh):
            tool("-c", qemu, "version")
        for tool in (virsh, pyvirsh):
            tool("-c", test, "list", "--all")
        print(f"== a firmware-only {virt.upper()} guest: defined and started with virsh, seen with pyvirsh ==")
        virsh("-c", qemu, "define", guest_xml)
        _until_watching(watchers, qemu, DAEMON_GUEST.format(virt=virt))
        virsh("-c", qemu, "start", "demo-daemon")
        _await_events(watchers, "Started Booted")
        pyvirsh_each(qemu, "list --all", "dominfo demo-daemon")
        pyvirsh("-c", qemu, "destroy", "demo-daemon")
        _await_events(watchers, "Stopped Destroyed")
        pyvirsh("-c", qemu, "start", "demo-daemon")
        _await_events(watchers, "Started Booted", times=2)
        print("== the lifecycle events both watchers received from the daemon ==")
        for w in watchers:
            status = w.stop()
            print(f"[{w.name} event --loop, stopped with Ctrl-C: exit status {status}]")
            for line in filter(None, w.lines):
                print(f"  {line}")
            if status != 0:
                raise DemoStepError(f"'{w.name} {shlex.join(w.args)}' failed (exit status {status})")
        print("== the read-only socket (0777, like libvirt's) refuses every change with libvirt's error ==")
        forbidden = "operation forbidden: read only access prevents virDomainDestroy"
        refused("virsh", "-c", read_only, "destroy", "demo-daemon", expect=forbidden)
        refused("pyvirsh", "-c", read_only, "destroy", "demo-daemon", expect=forbidden)
        virsh("-c", read_only, "domstate", "demo-daemon")
        print("== SIGTERM stops the daemon and leaves the guest running; a new daemon finds it again ==")
        pid, domid = _guest_qemu(tmp, "demo-daemon"), virsh("-c", qemu, "domid", "demo-daemon")
        _stop_daemon(daemon)
        if _qemus(tmp).get(pid) != "demo-daemon":
            raise DemoStepError(f"the QEMU of 'demo-daemon' (pid {pid}) did not survive the daemon's stop")
        print(f"QEMU {pid} of 'demo-daemon' is still running", flush=True)
        _start_daemon(daemon)
        virsh("-c", qemu, "list", "--all")
        if pyvirsh("-c", qemu, "domid", "demo-daemon") != domid:
            raise DemoStepError(f"'demo-daemon' had id {domid.strip()} before the daemon's restart, not after it")
        pyvirsh("-c", qemu, "dominfo", "demo-daemon")
        if (now := _guest_qemu(tmp, "demo-daemon")) != pid:
            raise DemoStepError(f"'demo-daemon' runs in QEMU {now} after the daemon's restart, not in QEMU {pid}")
        pyvirsh("-c", qemu, "destroy", "demo-daemon")
        virsh("-c", qemu, "undefine", "demo-daemon")
        _stop_daemon(daemon)
    finally:
        for w in watchers:
            w.stop()
        daemon.stop()
        _kill_qemus(tmp)


def _demo() -> None:
    _test_driver()
    _python_api()
    with tempfile.TemporaryDirectory(prefix="pyvirt-demo-", dir="/var/tmp") as tmp:
        try:
            _host(tmp)
        finally:
            _kill_qemus(tmp)
    print("== pyvirsh drivers ==")
    pyvirsh("drivers")
    print("== pyvirsh host-validate ==")
    pyvirsh("host-validate", "--failures")
    with tempfile.TemporaryDirectory(prefix="pyvirt-demo-", dir="/var/tmp") as tmp:
        _pyvirtd(tmp)


def main() -> int:
    return run(_demo)


if __name__ == "__main__":
    sys.exit(main())
