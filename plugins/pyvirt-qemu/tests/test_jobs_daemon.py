"""Per-domain jobs in pyvirtd, seen by several libvirt clients at once (Debian's python3-libvirt).

In the daemon every client shares one driver, so what one client does to a
guest must never stall what others ask about it. Two long jobs, made long
by real means rather than by sleeps in the product:

- a **save** of a guest with 1 GiB of non-zero memory (an NVDIMM backed by
  a file of random bytes: QEMU streams all of it; a save runs at libvirt's
  unlimited bandwidth, so that takes a second or more), or a save into a FIFO
  that the test drains at 128 MiB/s, as a slow disk would take it, when the
  save is to fail anyway (destroyed, aborted);
- a **start** whose serial port is a file that is really a FIFO: opening it
  for writing blocks until someone reads it, so the test decides when the
  start may go on, as a stalled NFS server would.

Meanwhile other clients' ``info``/``state``/``XMLDesc``/``domstats`` answer at once, a
second change waits for the first and then succeeds, a destroy gets through
a save, and a change that cannot get the job within libvirt's 30 seconds
fails with libvirt's code and words.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.local_driver.paths import paths_for_uri
from pyvirt.uri import parse_uri

pytestmark = pytest.mark.skipif(
    not os.path.exists("/usr/lib/python3/dist-packages/libvirt.py"), reason="Debian's python3-libvirt is not installed"
)

QUERY_BOUND = 0.5  # seconds: what "answers at once" means here, on a busy 2-vCPU machine

# Helpers every client script starts with: timed calls and their errors, as JSON-friendly values.
PRELUDE = textwrap.dedent(
    """
    import json, sys, threading, time, libvirt
    libvirt.registerErrorHandler(lambda *a: None, None)  # errors are reported through exceptions only
    URI, NAME = sys.argv[1], sys.argv[2]
    out = {}
    def timed(key, fn):
        began = time.monotonic()
        try:
            value = fn()
            out[key] = {"ok": True, "value": value if isinstance(value, (int, str, list)) else None}
        except libvirt.libvirtError as e:
            out[key] = {"ok": False, "code": e.get_error_code(), "message": str(e)}
        out[key].update(began=began, ended=time.monotonic())
    def queries(until, key):
        \"\"\"info, state, XMLDesc and domstats from a connection of their own, in a loop until ``until`` is set.\"\"\"
        conn = libvirt.open(URI)
        dom = conn.lookupByName(NAME)
        slowest, slowest_call, count = 0.0, "", 0
        calls = {"info": dom.info, "state": dom.state, "XMLDesc": lambda: dom.XMLDesc(0),
                 "domstats": lambda: conn.domainListGetStats([dom], 0)}
        while not until.is_set():
            for name, call in calls.items():
                began = time.monotonic()
                try:
                    call()
                except libvirt.libvirtError:
                    if until.is_set():  # the long job is over, and what came next may have removed the domain
                        break
                    raise
                took = time.monotonic() - began
                if took > slowest:
                    slowest, slowest_call = took, f"{name} at {began:.3f}"
                count += 1
        out[key] = {"slowest": slowest, "slowest_call": slowest_call, "count": count}
        conn.close()
    """
)


def client(daemon: PrivateDaemon, name: str, body: str, *args: str, timeout: float = 120) -> dict[str, dict]:
    script = PRELUDE + textwrap.dedent(body) + "\nprint(json.dumps(out))\n"
    run = subprocess.run(
        ["/usr/bin/python3", "-c", script, daemon.uri("qemu:///system"), name, *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr + daemon.log()
    result: dict[str, dict] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture
def daemon(qemu_root: Path) -> Iterator[PrivateDaemon]:
    with PrivateDaemon(qemu_root) as d:
        yield d


def run_dir(root: Path) -> Path:
    """Where the daemon's qemu:///system keeps its status files (its root is an embedded one)."""
    return Path(paths_for_uri(parse_uri(f"qemu:///embed?root={root}"), "qemu").run)


def big_memory_guest(virt_type: str, name: str, nvdimm: Path, mib: int = 256) -> str:
    """A firmware-only guest whose memory includes ``mib`` MiB of random bytes (QEMU cannot skip them as zero
    pages when it saves; one random MiB repeated is enough, QEMU's stream does not look for repeats)."""
    block = os.urandom(1 << 20)
    with open(nvdimm, "wb") as f:
        for _ in range(mib):
            f.write(block)
    return f"""<domain type='{virt_type}'><name>{name}</name>
<maxMemory slots='2' unit='MiB'>4096</maxMemory><memory unit='MiB'>{64 + mib}</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features>
<cpu><numa><cell id='0' cpus='0' memory='64' unit='MiB'/></numa></cpu><devices>
<memory model='nvdimm'><source><path>{nvdimm}</path></source><target><size unit='MiB'>{mib}</size><node>0</node>
</target></memory><serial type='pty'/></devices></domain>"""


def slow_sink(fifo: Path, rate: int = 128 << 20) -> threading.Thread:
    """A FIFO at ``fifo`` read at about ``rate`` bytes/s until its writer lets go: a save target as slow as a
    slow disk, for a save that is to be cut short (a destroy, an abort) while QEMU streams."""
    os.mkfifo(fifo, 0o600)

    def drain() -> None:
        with fifo.open("rb") as f:
            began, total = time.monotonic(), 0
            while chunk := f.read(1 << 20):
                total += len(chunk)
                time.sleep(max(0.0, began + total / rate - time.monotonic()))

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    return thread


def fifo_guest(virt_type: str, name: str, fifo: Path) -> str:
    os.mkfifo(fifo, 0o600)
    return f"""<domain type='{virt_type}'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type></os><devices><serial type='file'><source path='{fifo}'/></serial></devices></domain>"""


class FifoReader:
    """The reading end of the serial FIFO, opened when the test lets the start go on, then drained."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.thread: threading.Thread | None = None

    def release(self) -> None:
        if self.thread is not None:
            return

        def drain() -> None:
            with open(self.path, "rb", buffering=0) as f:
                while f.read(4096):
                    pass

        self.thread = threading.Thread(target=drain, daemon=True)
        self.thread.start()


def wait_for_starting(root: Path, name: str, timeout: float = 30) -> None:
    """Until the start is under way: libvirt's "paused, starting up" status is written before the serial
    file is opened."""
    status = run_dir(root) / f"{name}.xml"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if status.exists() and "reason='11'" in status.read_text().replace('"', "'"):
            return
        time.sleep(0.02)
    raise AssertionError("the start never got under way")


SAVE_WITH_OTHERS = """
conn = libvirt.open(URI)
dom = conn.lookupByName(NAME)
dom.create()
done = threading.Event()
def save():
    timed("save", lambda: dom.save(sys.argv[3]))
    done.set()
saver = threading.Thread(target=save)
saver.start()
time.sleep(0.3)  # the save is under way: QEMU streams for seconds
readers = [threading.Thread(target=queries, args=(done, f"queries{i}")) for i in range(2)]
for r in readers:
    r.start()
other = libvirt.open(URI)
out["state_during"] = {"value": other.lookupByName(NAME).state()}
timed("undefine", lambda: other.lookupByName(NAME).undefine())  # a second change: waits for the save
saver.join()
for r in readers:
    r.join()
"""


def test_queries_answer_at_once_during_a_save_and_a_second_change_waits_for_it(
    daemon: PrivateDaemon, qemu_root: Path, virt_type: str, tmp_path: Path
) -> None:
    xml = big_memory_guest(virt_type, "big", tmp_path / "nvdimm.img", mib=1024)
    client(daemon, "big", "libvirt.open(URI).defineXML(open(sys.argv[3]).read())", _write(tmp_path / "big.xml", xml))
    out = client(daemon, "big", SAVE_WITH_OTHERS, str(tmp_path / "big.save"))
    save = out["save"]
    assert save["ok"], save
    assert save["ended"] - save["began"] > 1.0, "the save was too quick to overlap anything"
    for key in ("queries0", "queries1"):
        assert out[key]["count"] >= 10, out[key]  # they kept answering while QEMU streamed
        assert out[key]["slowest"] < QUERY_BOUND, f"a query waited {out[key]['slowest']:.2f} s for the save: {out}"
    assert out["state_during"]["value"] == [3, 3]  # paused (saving), as libvirt shows a guest being saved
    undefine = out["undefine"]
    assert undefine["ok"], undefine
    # (both replies leave the daemon once the save's job ends, on two connections: either may arrive first)
    assert undefine["ended"] >= save["ended"] - 0.05, "the undefine ran beside the save instead of waiting for it"
    assert (tmp_path / "big.save").stat().st_size > 1024 << 20


DESTROY_DURING_SAVE = """
conn = libvirt.open(URI)
dom = conn.lookupByName(NAME)
dom.create()
saver = threading.Thread(target=timed, args=("save", lambda: dom.save(sys.argv[3])))
saver.start()
time.sleep(0.5)
other = libvirt.open(URI)
timed("destroy", lambda: other.lookupByName(NAME).destroy())
saver.join()
out["state"] = {"value": other.lookupByName(NAME).state()}
"""


def test_destroy_gets_through_a_save_and_the_save_fails(
    daemon: PrivateDaemon, qemu_root: Path, virt_type: str, tmp_path: Path
) -> None:
    xml = big_memory_guest(virt_type, "big", tmp_path / "nvdimm.img")
    client(daemon, "big", "libvirt.open(URI).defineXML(open(sys.argv[3]).read())", _write(tmp_path / "big.xml", xml))
    image = tmp_path / "big.save"
    sink = slow_sink(image)
    out = client(daemon, "big", DESTROY_DURING_SAVE, str(image))
    sink.join(30)
    destroy, save = out["destroy"], out["save"]
    assert destroy["ok"], destroy
    assert destroy["ended"] - destroy["began"] < 1.5, "destroy waited for the save"
    assert not save["ok"] and save["ended"] < destroy["ended"] + 1.0, save
    assert out["state"]["value"] == [5, 2]  # shut off (destroyed), not saved
    assert not image.exists()  # the half-written image is gone


ABORT_DURING_SAVE = """
conn = libvirt.open(URI)
dom = conn.lookupByName(NAME)
dom.create()
out["id_before"] = {"value": dom.ID()}
saver = threading.Thread(target=timed, args=("save", lambda: dom.save(sys.argv[3])))
saver.start()
other = libvirt.open(URI)
odom = other.lookupByName(NAME)
while odom.state() != [3, 3]:  # paused (saving): the save job is ours
    time.sleep(0.01)
time.sleep(0.5)  # QEMU is streaming the guest's memory
timed("abort", odom.abortJob)
saver.join()
out["state"] = {"value": odom.state()}
out["id_after"] = {"value": odom.ID()}
timed("abort_again", odom.abortJob)
timed("abort_postcopy", lambda: odom.abortJobFlags(libvirt.VIR_DOMAIN_ABORT_JOB_POSTCOPY))
timed("destroy", odom.destroy)
timed("abort_inactive", odom.abortJob)
"""


def test_a_client_aborts_another_clients_save_and_the_guest_runs_on(
    daemon: PrivateDaemon, qemu_root: Path, virt_type: str, tmp_path: Path
) -> None:
    """virsh domjobabort from one client while another saves: the save fails with libvirt's words, the same
    QEMU runs on ("running (save canceled)"), and no half-written image is left."""
    xml = big_memory_guest(virt_type, "big", tmp_path / "nvdimm.img", mib=384)
    client(daemon, "big", "libvirt.open(URI).defineXML(open(sys.argv[3]).read())", _write(tmp_path / "big.xml", xml))
    image = tmp_path / "big.save"
    sink = slow_sink(image)
    out = client(daemon, "big", ABORT_DURING_SAVE, str(image))
    sink.join(30)
    abort, save = out["abort"], out["save"]
    assert abort["ok"], abort
    assert abort["ended"] < save["ended"], "the abort waited for the save instead of cancelling it"
    assert not save["ok"], "the save completed: it was too quick to be aborted"
    assert (save["code"], save["message"]) == (78, "operation aborted: job 'domain save' canceled by client")
    assert out["state"]["value"] == [1, 7]  # running (save canceled), as libvirt reports it
    assert out["id_after"]["value"] == out["id_before"]["value"]  # the same QEMU, not a restarted one
    assert not image.exists()
    assert (out["abort_again"]["code"], out["abort_again"]["message"]) == (
        55, "Requested operation is not valid: no job is active on the domain"
    )  # fmt: skip
    assert (out["abort_postcopy"]["code"], out["abort_postcopy"]["message"]) == (
        55, "Requested operation is not valid: current job is not outgoing migration in post-copy mode"
    )  # fmt: skip
    assert out["destroy"]["ok"]
    assert (out["abort_inactive"]["code"], out["abort_inactive"]["message"]) == (
        55, "Requested operation is not valid: domain is not running"
    )  # fmt: skip


DESTROY_DURING_START = """
import os, signal
other = libvirt.open(URI)
odom = other.lookupByName(NAME)
pidfile = sys.argv[3]
for attempt in range(40):
    conn = libvirt.open(URI)
    starter = threading.Thread(target=timed, args=("start", conn.lookupByName(NAME).create))
    starter.start()
    pid = None
    while starter.is_alive():  # until QEMU runs and the driver holds it (an id) before 'cont'
        if other.lookupByName(NAME).ID() != -1:  # (a looked-up domain keeps the id it was looked up with)
            pid = int(open(pidfile).read())
            os.kill(pid, signal.SIGSTOP)  # the start stays where it is
            break
    if pid is None:  # the start ended before an id was seen
        starter.join()
        if odom.isActive():
            odom.destroy()
        conn.close()
        continue
    destroyer = threading.Thread(target=timed, args=("destroy", odom.destroy))
    destroyer.start()
    time.sleep(0.3)
    os.kill(pid, signal.SIGCONT)  # QEMU takes the destroy's SIGTERM
    destroyer.join()
    starter.join()
    if out["start"]["ok"]:  # too late: 'cont' had gone through before the stop
        if odom.isActive():
            odom.destroy()
        conn.close()
        continue
    out["attempts"] = {"value": attempt + 1}
    break
out["state"] = {"value": odom.state()}
"""


def test_a_destroy_during_a_start_fails_the_start_with_libvirts_words(
    daemon: PrivateDaemon, qemu_root: Path, virt_type: str, tmp_path: Path
) -> None:
    """A destroy from one client while another's start has QEMU running but not yet resumed: the destroy
    wins and the start fails as libvirt's qemuProcessStart does once its domain is gone ("domain is no
    longer running"), never with the monitor's own "QMPClient is disconnecting".

    Between the moment the driver holds QEMU (the guest has an id) and 'cont', the driver sets each disk's
    ``<iotune>`` over QMP, as libvirt does: 24 throttled disks make that window wide enough for the client
    to stop QEMU (SIGSTOP) inside it; when it was too late all the same, the client starts again."""
    disks = []
    for i in range(24):
        image = tmp_path / f"d{i}.img"
        with open(image, "wb") as f:
            f.truncate(1 << 20)
        disks.append(
            f"<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{image}'/>"
            f"<target dev='vd{chr(ord('a') + i)}' bus='virtio'/><iotune><total_bytes_sec>1000000</total_bytes_sec>"
            "</iotune></disk>"
        )
    xml = f"""<domain type='{virt_type}'><name>racy</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type></os><devices>{"".join(disks)}<serial type='pty'/></devices></domain>"""
    client(daemon, "racy", "libvirt.open(URI).defineXML(open(sys.argv[3]).read())", _write(tmp_path / "r.xml", xml))
    out = client(daemon, "racy", DESTROY_DURING_START, str(run_dir(qemu_root) / "racy.pid"), timeout=300)
    assert "attempts" in out, f"no stop landed between the spawn and 'cont' in 40 starts: {out}"
    assert out["destroy"]["ok"], out["destroy"]
    start = out["start"]
    assert (start["ok"], start.get("code"), start.get("message")) == (
        False, 9, "operation failed: domain is no longer running"
    ), start  # fmt: skip
    assert out["state"]["value"] == [5, 2]  # shut off (destroyed)


SLOW_START = """
conn = libvirt.open(URI)
dom = conn.lookupByName(NAME)
starter = threading.Thread(target=timed, args=("create", dom.create))
starter.start()
while not __import__("os").path.exists(sys.argv[3]):
    time.sleep(0.01)
done = threading.Event()
readers = [threading.Thread(target=queries, args=(done, f"queries{i}")) for i in range(2)]
for r in readers:
    r.start()
other = libvirt.open(URI)
changer = threading.Thread(target=timed, args=("suspend", lambda: other.lookupByName(NAME).suspend()))
changer.start()
held_until = time.monotonic() + float(sys.argv[4])
time.sleep(float(sys.argv[5]))  # the queries' window (a query the start blocks is blocked from its first call)
done.set()
for r in readers:
    r.join()
out["suspend_waiting"] = {"value": int(changer.is_alive())}
print("queried", flush=True)
time.sleep(max(0.0, held_until - time.monotonic()))
print("release", flush=True)
sys.stdin.readline()
starter.join()
changer.join()
out["state"] = {"value": other.lookupByName(NAME).state()}
timed("destroy", lambda: other.lookupByName(NAME).destroy())
"""


def slow_start(
    daemon: PrivateDaemon,
    root: Path,
    tmp_path: Path,
    virt_type: str,
    hold: float,
    window: float,
    queried: threading.Event | None = None,
) -> dict[str, dict]:
    """Start the FIFO guest from one client while others query it for ``window`` seconds (then ``queried`` is
    set) and one suspends it; the start may go on only after ``hold`` seconds."""
    fifo = tmp_path / "serial.fifo"
    xml = fifo_guest(virt_type, "slow", fifo)
    client(daemon, "slow", "libvirt.open(URI).defineXML(open(sys.argv[3]).read())", _write(tmp_path / "s.xml", xml))
    flag = tmp_path / "starting"
    reader = FifoReader(fifo)
    script = PRELUDE + textwrap.dedent(SLOW_START) + "\nprint(json.dumps(out))\n"
    proc = subprocess.Popen(
        ["/usr/bin/python3", "-c", script, daemon.uri("qemu:///system"), "slow", str(flag), str(hold), str(window)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for_starting(root, "slow")
        flag.touch()
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline().strip() == "queried"
        if queried is not None:
            queried.set()
        assert proc.stdout.readline().strip() == "release"
        reader.release()  # the start goes on
        proc.stdin.write("\n")
        proc.stdin.flush()
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        reader.release()  # never leave the daemon's worker blocked in open()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr + daemon.log()
    result: dict[str, dict] = json.loads(stdout.strip().splitlines()[-1])
    return result


def test_queries_answer_during_a_stalled_start_and_a_suspend_waits_then_succeeds(
    daemon: PrivateDaemon, qemu_root: Path, virt_type: str, tmp_path: Path
) -> None:
    out = slow_start(daemon, qemu_root, tmp_path, virt_type, hold=2.0, window=2.0)
    for key in ("queries0", "queries1"):
        assert out[key]["count"] >= 10, out[key]
        assert out[key]["slowest"] < QUERY_BOUND, f"a query waited {out[key]['slowest']:.2f} s for the start: {out}"
    assert out["suspend_waiting"]["value"] == 1, "the suspend did not wait for the start"
    create, suspend = out["create"], out["suspend"]
    assert create["ok"] and suspend["ok"], (create, suspend)
    assert suspend["ended"] >= create["ended"]
    assert out["state"]["value"] == [3, 1]  # paused by the user, after the start
    assert out["destroy"]["ok"]


THIRTY_SECONDS_TEST = "test_a_change_that_waits_thirty_seconds_fails_as_in_libvirt"


@pytest.fixture(scope="module", autouse=True)
def thirty_second_wait(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, virt_type: str
) -> Iterator[Callable[[], dict]]:
    """The 30 s wait of the last test, begun before the module's first test and overlapped with the others.

    A stalled start in a daemon of its own, a suspend waiting for its job, queries during the first
    2 seconds (the fixture returns only after them, so their bound is not shared with the other tests' own
    busy loops); then the daemon only waits, and the other tests run meanwhile. Nothing starts when the
    30 s test is not selected. Calling the returned function waits for the scenario's end.
    """
    if not any(item.name == THIRTY_SECONDS_TEST for item in request.session.items):
        yield lambda: {}
        return
    root = request.getfixturevalue("module_qemu_root")
    work = tmp_path_factory.mktemp("wait30")
    queried = threading.Event()
    result: dict[str, dict] = {}
    failure: list[BaseException] = []

    def scenario() -> None:
        try:
            with PrivateDaemon(root) as daemon:
                result.update(slow_start(daemon, root, work, virt_type, hold=31.0, window=2.0, queried=queried))
        except BaseException as e:  # re-raised in the test
            failure.append(e)
        finally:
            queried.set()

    thread = threading.Thread(target=scenario, daemon=True)
    thread.start()
    queried.wait(120)

    def wait() -> dict:
        thread.join(120)
        assert not thread.is_alive(), "the 30 s scenario did not end"
        if failure:
            raise failure[0]
        return result

    try:
        yield wait
    finally:
        thread.join(120)


def test_a_change_that_waits_thirty_seconds_fails_as_in_libvirt(thirty_second_wait: Callable[[], dict]) -> None:
    """libvirt's VIR_JOB_WAIT_TIME is fixed (no configuration knob exists), so this test really waits 30 s,
    once: in the background (``thirty_second_wait``), while the module's other tests run."""
    out = thirty_second_wait()
    suspend = out["suspend"]
    assert not suspend["ok"] and suspend["code"] == 68, suspend  # VIR_ERR_OPERATION_TIMEOUT
    assert suspend["message"] == (
        "Timed out during operation: cannot acquire state change lock (held by monitor=remoteDispatchDomainCreate)"
    )
    assert 29.5 < suspend["ended"] - suspend["began"] < 33
    for key in ("queries0", "queries1"):
        assert out[key]["slowest"] < QUERY_BOUND
    assert out["create"]["ok"] and out["state"]["value"] == [1, 1]  # the start itself went on: running (booted)


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)
