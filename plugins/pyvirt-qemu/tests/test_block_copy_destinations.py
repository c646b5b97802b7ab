"""Block copy destinations beyond a local path, and the new image made as libvirt makes it.

- A local destination is made by the guest's own QEMU (``blockdev-create``), not by qemu-img: the file is
  created empty and private (0600) before it is labelled, and a qcow2 copy of a qcow2 disk keeps the
  source's cluster size (qemuBlockStorageSourceCreateDetectSize), which qemu-img's defaults would not.
- A network destination (NBD, served here by qemu-nbd on loopback): QEMU formats the export itself when the
  copy is not reusing it; a reused one must name its format, since it cannot be probed. Debian's virsh sees
  the same from pyvirtd as from libvirtd 9.0, and a restarted pyvirtd takes such a copy over.
- A storage volume destination: translated through the storage driver, as a volume disk is at start.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt.errors import Error, ErrorCode
from pyvirt.plugin.entry_point_index import entry_point_value

TRANSIENT_JOB = 4  # VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB
REUSE_EXT = 2
ABORT_PIVOT = 2
COMPLETED, READY = 0, 3


def _block_copy_tests() -> Any:
    """test_block_copy's guest and image helpers (the tests directory is not a package)."""
    spec = importlib.util.spec_from_file_location("pyvirt_qemu_tests_block_copy",
                                                  Path(__file__).parent / "test_block_copy.py")  # fmt: skip
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_helpers = _block_copy_tests()
_guest, _image, _wait_for = _helpers._guest, _helpers._image, _helpers._wait_for


def _info(path: Path, fmt: str) -> dict[str, Any]:
    out = subprocess.run(["qemu-img", "info", "-U", "--output=json", "-f", fmt, str(path)], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    return dict(json.loads(out))


def _same(a: Path, b: Path, b_format: str) -> None:
    same = subprocess.run(["qemu-img", "compare", "-U", "-F", b_format, str(a), str(b)], capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert same.returncode == 0, f"the copy differs from its source: {same.stdout}{same.stderr}"


def _copy_to_ready_then_pivot(dom: pyvirt.Domain, conn: pyvirt.Connection, destxml: str, flags: int) -> str:
    """Start the copy, wait for READY, keep the live XML of that moment, pivot, wait for COMPLETED."""
    events: list[Any] = []
    cid = conn.register_event("block-job-2", events.append)
    try:
        dom.block_copy("vda", destxml, flags=flags)
        _wait_for(events, 1, "READY")
        live = dom.xml_desc().replace('"', "'")
        dom.block_job_abort("vda", ABORT_PIVOT)
        _wait_for(events, 2, "COMPLETED")
        assert [(e.disk, e.status) for e in events] == [("vda", READY), ("vda", COMPLETED)]
        return live
    finally:
        conn.deregister_event(cid)


def test_a_local_copy_is_made_by_qemu_private_and_with_the_source_cluster_size(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path
) -> None:
    source = tmp_path / "src.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", str(source), "16M"],
                   check=True)  # fmt: skip
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 4M", str(source)], check=True,
                   capture_output=True)  # fmt: skip
    dom = _guest(conn, virt_type, source)
    try:
        qcow2, raw = tmp_path / "copy.qcow2", tmp_path / "copy.raw"
        _copy_to_ready_then_pivot(dom, conn, f"<disk type='file'><source file='{qcow2}'/><driver type='qcow2'/></disk>",
                                  TRANSIENT_JOB)  # fmt: skip
        assert _info(qcow2, "qcow2")["cluster-size"] == 4096, "qemu-img's default would be 65536"
        assert os.stat(qcow2).st_mode & 0o777 == 0o600
        # a raw copy is sized by QEMU's file driver: its size is the disk's capacity
        _copy_to_ready_then_pivot(dom, conn, f"<disk type='file'><source file='{raw}'/><driver type='raw'/></disk>",
                                  TRANSIENT_JOB)  # fmt: skip
        assert os.stat(raw).st_size == 16 << 20 and os.stat(raw).st_mode & 0o777 == 0o600
    finally:
        dom.destroy()
        dom.undefine()
    _same(source, qcow2, "qcow2")
    _same(source, raw, "raw")


@contextlib.contextmanager
def _nbd_server(image: Path) -> Iterator[int]:
    """qemu-nbd exporting the raw file ``image`` as 'exp' on a free loopback port (yielded); stopped after."""
    subprocess.run(["qemu-img", "create", "-q", "-f", "raw", str(image), "16M"], check=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(["qemu-nbd", "--persistent", "--shared=4", "-b", "127.0.0.1", "-p", str(port),
                               "-x", "exp", "-f", "raw", str(image)], stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "qemu-nbd did not come up"
                time.sleep(0.05)
        yield port
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture
def nbd_export(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A 16 MiB raw file exported by qemu-nbd as 'exp' on loopback, for one test."""
    with _nbd_server(tmp_path / "export.img") as port:
        yield tmp_path / "export.img", port


def test_copy_to_an_nbd_export_formats_it_and_pivots_the_disk_onto_it(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path, nbd_export: tuple[Path, int],
    guest_monitor: Callable[[pyvirt.Domain], Any],
) -> None:  # fmt: skip
    image, port = nbd_export
    source = _image(tmp_path / "src.qcow2")
    dom = _guest(conn, virt_type, source)
    host = f"<host name='127.0.0.1' port='{port}'/>"
    dest = f"<disk type='network'><source protocol='nbd' name='exp'>{host}</source><driver type='{{}}'/></disk>"
    try:
        reused = f"<disk type='network'><source protocol='nbd' name='exp'>{host}</source></disk>"
        with pytest.raises(Error) as exc:  # nothing to probe a network image's format with
            dom.block_copy("vda", reused, flags=TRANSIENT_JOB | REUSE_EXT)
        assert exc.value.code == ErrorCode.CONFIG_UNSUPPORTED
        assert "reused mirror destination format must be specified" in str(exc.value)
        live = _copy_to_ready_then_pivot(dom, conn, dest.format("qcow2"), TRANSIENT_JOB)
        assert (
            "<mirror type='network' job='copy' ready='yes'>\n        <format type='qcow2'/>\n"
            f"        <source protocol='nbd' name='exp' tls='no' index='2'>\n          {host}\n        </source>\n"
            "        <backingStore/>\n      </mirror>"
        ) in live
        after = dom.xml_desc().replace('"', "'")
        assert (
            "<disk type='network' device='disk'>" in after
            and "<source protocol='nbd' name='exp' tls='no' index='2'>" in after
        )
        top = next(n for n in guest_monitor(dom).execute("query-named-block-nodes", {"flat": True})
                   if n["node-name"] == "libvirt-2-storage")  # fmt: skip
        assert top["drv"] == "nbd"
    finally:
        dom.destroy()
        dom.undefine()
    # QEMU wrote a qcow2 image onto the raw export (blockdev-create), holding the disk's data
    assert image.read_bytes()[:4] == b"QFI\xfb"
    _same(source, image, "qcow2")


def test_a_restarted_daemon_takes_an_nbd_copy_over(
    qemu_root: Path, tmp_path: Path, virt_type: str, nbd_export: tuple[Path, int]
) -> None:
    """The status file keeps where a network copy goes: pyvirtd killed mid-copy, the next one shows the
    ``<mirror>`` and pivots the disk onto the export."""
    import sys

    from pyvirt.daemon.instance import PrivateDaemon

    image, port = nbd_export
    pyvirsh = str(Path(sys.executable).with_name("pyvirsh"))
    source = _image(tmp_path / "src.qcow2")
    (tmp_path / "g.xml").write_text(f"""<domain type='{virt_type}'><name>cp</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><disk type='file' device='disk'>
<driver name='qemu' type='qcow2'/><source file='{source}'/><target dev='vda' bus='virtio'/></disk>
</devices></domain>""")
    (tmp_path / "d.xml").write_text(f"<disk type='network'><source protocol='nbd' name='exp'><host name='127.0.0.1' "
                                    f"port='{port}'/></source><driver type='raw'/></disk>")  # fmt: skip

    def run(uri: str, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([pyvirsh, "-c", uri, *argv], capture_output=True, text=True, timeout=120, check=False)

    daemon = PrivateDaemon(qemu_root).start()
    try:
        uri = daemon.uri("qemu:///system")
        assert run(uri, "create", str(tmp_path / "g.xml")).returncode == 0
        started = run(uri, "blockcopy", "cp", "vda", "--xml", str(tmp_path / "d.xml"), "--wait")
        assert started.returncode == 0, started.stderr
        daemon.kill()
        daemon = PrivateDaemon(qemu_root).start()
        live = run(uri, "dumpxml", "cp").stdout.replace('"', "'")
        assert "<mirror type='network' job='copy' ready='yes'>" in live, live
        assert (
            f"<source protocol='nbd' name='exp' tls='no' index='2'>\n          <host name='127.0.0.1' port='{port}'/>"
            in live
        )
        pivoted = run(uri, "blockjob", "cp", "vda", "--pivot")
        assert pivoted.returncode == 0, pivoted.stderr
        live = run(uri, "dumpxml", "cp").stdout.replace('"', "'")
        assert "<disk type='network' device='disk'>" in live and "<mirror" not in live, live
    finally:
        run(daemon.uri("qemu:///system"), "destroy", "cp")
        daemon.stop()
    _same(source, image, "raw")  # a raw destination is written as it is: nothing formatted onto it


def test_qemu_conf_nbd_tls_refuses_a_copy_it_would_need_tls_for(tmp_path: Path, virt_type: str) -> None:
    """With qemu.conf's nbd_tls, libvirt reaches an export that does not say tls='no' over TLS, which a copy cannot
    set up here yet: refused, where a clear-text copy would silently differ."""
    if os.geteuid() != 0:
        pytest.skip("needs root to spawn QEMU through the security stack")
    root = tmp_path / "embed"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "qemu.conf").write_text(f'nbd_tls = 1\nnbd_tls_x509_cert_dir = "{tmp_path}"\n')
    with pyvirt.open(f"qemu:///embed?root={root}") as conn:
        dom = _guest(conn, virt_type, _image(tmp_path / "src.qcow2", pattern=False))
        try:
            with pytest.raises(Error) as exc:
                dom.block_copy("vda", "<disk type='network'><source protocol='nbd' name='exp'><host name='127.0.0.1' "
                               "port='1'/></source><driver type='raw'/></disk>", flags=TRANSIENT_JOB)  # fmt: skip
            assert exc.value.code == ErrorCode.CONFIG_UNSUPPORTED and "with TLS" in str(exc.value)
            # tls='no' opts out: the copy goes on to QEMU, which finds nobody on port 1
            with pytest.raises(Error) as exc:
                dom.block_copy("vda", "<disk type='network'><source protocol='nbd' name='exp' tls='no'>"
                               "<host name='127.0.0.1' port='1'/></source><driver type='raw'/></disk>",
                               flags=TRANSIENT_JOB)  # fmt: skip
            assert "with TLS" not in str(exc.value)
            assert dom.block_job_info("vda") == (0, 0, 0, 0)
        finally:
            dom.destroy()
            dom.undefine()


NEEDS_STORAGE = pytest.mark.skipif(
    entry_point_value("pyvirt.hypervisor", "storage") is None,
    reason="pyvirt-storage (the storage driver) is not installed",
)


@NEEDS_STORAGE
def test_copy_to_a_storage_volume_goes_through_the_storage_driver(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path
) -> None:
    images = tmp_path / "images"
    pool = conn.define_storage_pool(
        f"<pool type='dir'><name>images</name><target><path>{images}</path></target></pool>"
    )
    pool.create(1)
    pool.create_volume("<volume><name>copy.qcow2</name><capacity>16777216</capacity>"
                       "<target><format type='qcow2'/></target></volume>")  # fmt: skip
    source = _image(tmp_path / "src.qcow2")
    dom = _guest(conn, virt_type, source)
    volume = "<disk type='volume'><source pool='images' volume='{}'/><driver type='qcow2'/></disk>"
    target = images / "copy.qcow2"
    try:
        with pytest.raises(Error) as exc:
            dom.block_copy("vda", volume.format("missing.qcow2"), flags=TRANSIENT_JOB | REUSE_EXT)
        assert exc.value.code == ErrorCode.NO_STORAGE_VOL
        with pytest.raises(Error) as exc:
            dom.block_copy("vda", "<disk type='volume'><source pool='images'/></disk>", flags=TRANSIENT_JOB)
        assert exc.value.code == ErrorCode.XML_ERROR and "missing pool or volume name" in str(exc.value)
        with pytest.raises(Error) as exc:  # the volume exists: only a copy that reuses it may write it
            dom.block_copy("vda", volume.format("copy.qcow2"), flags=TRANSIENT_JOB)
        assert exc.value.code == ErrorCode.CONFIG_UNSUPPORTED
        assert f"external destination file for disk vda already exists and is not a block device: {target}" in str(
            exc.value
        )
        live = _copy_to_ready_then_pivot(dom, conn, volume.format("copy.qcow2"), TRANSIENT_JOB | REUSE_EXT)
        assert f"<mirror type='file' file='{target}' format='qcow2' job='copy' ready='yes'>" in live
        assert f"<source file='{target}' index='2'/>" in dom.xml_desc().replace('"', "'")
    finally:
        dom.destroy()
        dom.undefine()
    _same(source, target, "qcow2")


@pytest.mark.parametrize(
    ("destination", "what"),
    [
        ("<disk type='file'><source file='/c.qcow2'><encryption format='luks'/></source></disk>", "encryption"),
        (
            "<disk type='file'><source file='/c.qcow2'/><backingStore type='file'><source file='/b'/></backingStore>"
            "</disk>",
            "a backing chain of its own",
        ),
        ("<disk type='network'><source protocol='nbd' tls='yes'><host name='127.0.0.1'/></source></disk>", "TLS"),
        (
            "<disk type='network'><source protocol='nbd'><host name='h'/><auth username='u'/></source></disk>",
            "authentication",
        ),
        ("<disk type='dir'><source dir='/d'/></disk>", "'dir'"),
    ],
)
def test_what_a_destination_asks_for_and_cannot_get_is_refused_by_name(destination: str, what: str) -> None:
    from pyvirt_qemu import block_jobs

    with pytest.raises(Error) as exc:
        block_jobs.request_from_xml(destination, [], TRANSIENT_JOB)
    assert exc.value.code == ErrorCode.CONFIG_UNSUPPORTED and what in str(exc.value)


# Debian's virsh against a private libvirtd 9.0, then against pyvirtd, on the same guest and NBD export
_NBD_STEPS = (
    "blockcopy cp vda --xml {w}/reused.xml --transient-job --reuse-external",
    "blockcopy cp vda --xml {w}/dest.xml --transient-job --wait",
    "dumpxml cp",
    "blockjob cp vda --pivot",
    "dumpxml cp",
)


def _nbd_session(uri: str, work: Path, virt_type: str) -> list[tuple[str, int, str]]:
    import re

    env = dict(os.environ, LC_ALL="C")
    source = _image(work / "src.qcow2")
    (work / "g.xml").write_text(f"""<domain type='{virt_type}'><name>cp</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><disk type='file' device='disk'>
<driver name='qemu' type='qcow2'/><source file='{source}'/><target dev='vda' bus='virtio'/></disk>
</devices></domain>""")
    out = []
    with _nbd_server(work / "export.img") as port:
        host = f"<host name='127.0.0.1' port='{port}'/>"
        net = f"<disk type='network'><source protocol='nbd' name='exp'>{host}</source>"
        (work / "reused.xml").write_text(net + "</disk>")
        (work / "dest.xml").write_text(net + "<driver type='qcow2'/></disk>")
        assert subprocess.run(["virsh", "-c", uri, "create", str(work / "g.xml")], capture_output=True,
                              check=False).returncode == 0  # fmt: skip
        try:
            for step in _NBD_STEPS:
                done = subprocess.run(["virsh", "-c", uri, *step.format(w=work).split()], capture_output=True,
                                      text=True, timeout=120, env=env, check=False)  # fmt: skip
                text = (done.stdout + done.stderr).replace(str(work), "W").replace(f"'{port}'", "'PORT'")
                if step.startswith("dumpxml"):
                    disk = re.search(r"<disk .*?</disk>", text, re.S)
                    # libvirt also shows the probed (empty) chain of the image it started on
                    text = disk[0].replace("<source file='W/src.qcow2' index='1'/>\n      <backingStore/>",
                                           "<source file='W/src.qcow2' index='1'/>") if disk else text  # fmt: skip
                out.append((step, done.returncode, text))
        finally:
            subprocess.run(["virsh", "-c", uri, "destroy", "cp"], capture_output=True, env=env, check=False)
    _same(source, work / "export.img", "qcow2")
    return out


def test_debian_virsh_sees_the_same_nbd_copy_from_pyvirtd_as_from_libvirtd(
    qemu_root: Path, tmp_path: Path, virt_type: str, shared_libvirtd: str
) -> None:
    """The refusal of an unnamed reused format, the copy, the ``<mirror>`` and the pivoted disk, line for line."""
    from pyvirt.daemon.instance import PrivateDaemon

    (tmp_path / "libvirt").mkdir()
    theirs = _nbd_session(shared_libvirtd, tmp_path / "libvirt", virt_type)
    (tmp_path / "pyvirt").mkdir()
    with PrivateDaemon(qemu_root / "pyvirt") as daemon:
        ours = _nbd_session(daemon.uri("qemu:///system"), tmp_path / "pyvirt", virt_type)
    assert "<mirror type='network' job='copy' ready='yes'>" in theirs[2][2], theirs  # the comparison compares
    for (step, *expected), (_, *got) in zip(theirs, ours, strict=True):
        assert got == expected, step
