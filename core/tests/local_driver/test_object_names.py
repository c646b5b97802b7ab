"""Names as file names: objects called ``.``, ``..`` or ``.x`` stay visible, names that cannot be files are refused.

libvirt accepts such names (its directory reader skips only ``.`` and ``..``
entries), so a local driver must load every ``NAME.xml`` whatever its name,
or a guest named ``.x`` keeps running while every later process, and every
uniqueness check, misses it. A name too long for a file, or a newline in a
defined name, is refused before anything is created, with libvirt's errors.

The stores are tested directly, then each local driver end to end through
pyvirsh, every command a fresh process as a user runs them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pyvirt.conf.domain import parse_domain
from pyvirt.conf.network import format_network, parse_network
from pyvirt.errors import ErrorCode, ErrorDomain, NotFoundError, OperationFailedError, SystemCallError, XMLError
from pyvirt.local_driver.domain_table import DomainObj, DomainTable
from pyvirt.local_driver.names import NAME_SUFFIX_RESERVE, definition_files, storable
from pyvirt.local_driver.object_store import ObjectStore
from pyvirt.local_driver.paths import embed_paths
from pyvirt.local_driver.status_file import atomic_write
from pyvirt.plugin.entry_point_index import entry_point_value

DOT_NAMES = (".", "..", ".x")
LONGEST = "n" * (255 - NAME_SUFFIX_RESERVE)
TOO_LONG = "n" * 256
PYVIRSH = [sys.executable, "-m", "pyvirt.cli.main"]


def domain(name: str, uuid: str, virt: str = "qemu") -> str:
    os_type = "<type>exe</type><init>/bin/sh</init>" if virt == "lxc" else "<type>hvm</type>"
    return (f"<domain type='{virt}'><name>{name}</name><uuid>{uuid}</uuid><memory unit='MiB'>64</memory>"
            f"<os>{os_type}</os></domain>")  # fmt: skip


def uuid_of(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


# ---------------------------------------------------------------- the shared stores


def test_domain_table_loads_every_definition_whatever_its_name(tmp_path: Path) -> None:
    paths = embed_paths(str(tmp_path), "qemu")
    table = DomainTable(paths, ErrorDomain.QEMU, DomainObj)
    for i, name in enumerate((*DOT_NAMES, "plain", LONGEST)):
        obj, _new = table.add_definition(parse_domain(domain(name, uuid_of(i))), live=False)
        table.save_config(obj.live)
    assert sorted(os.listdir(paths.config)) == sorted(["autostart"] * os.path.isdir(paths.config + "/autostart") +
                                                      [f"{n}.xml" for n in (*DOT_NAMES, "plain", LONGEST)])  # fmt: skip
    later = DomainTable(paths, ErrorDomain.QEMU, DomainObj)  # what a new process sees
    later.load_configs()
    assert sorted(r.name for r in later.list_all()) == sorted((*DOT_NAMES, "plain", LONGEST))
    # and the uniqueness checks count them: ".x"'s UUID under another name is refused
    with pytest.raises(OperationFailedError, match=r"domain '\.x' is already defined with uuid"):
        later.add_definition(parse_domain(domain("other", uuid_of(2))), live=False)


def test_domain_names_that_cannot_be_files_are_refused_before_anything_exists(tmp_path: Path) -> None:
    paths = embed_paths(str(tmp_path), "lxc")
    table = DomainTable(paths, ErrorDomain.LXC, DomainObj)
    for live in (False, True):
        with pytest.raises(SystemCallError) as info:
            table.add_definition(parse_domain(domain(TOO_LONG, uuid_of(1), "lxc")), live=live)
        assert info.value.code == ErrorCode.SYSTEM_ERROR
        assert info.value.message.startswith("Failed to create file '") and info.value.message.endswith(
            ".xml': File name too long"
        )
    with pytest.raises(XMLError) as xml_info:
        table.add_definition(parse_domain(domain("a\nb", uuid_of(2), "lxc")), live=False)
    assert (xml_info.value.code, xml_info.value.domain, xml_info.value.message) == (
        ErrorCode.XML_DETAIL, ErrorDomain.XML, "invalid char in name: \n")  # fmt: skip
    assert table.list_all() == [] and os.listdir(paths.config) == [] and os.listdir(paths.run) == []


NET = "<network><name>{name}</name><uuid>{uuid}</uuid><bridge name='{bridge}'/></network>"


def _net_store(paths_root: Path) -> ObjectStore:  # type: ignore[type-arg]
    def not_found(name: str) -> NotFoundError:
        return NotFoundError(ErrorCode.NO_NETWORK, f"no network with matching name '{name}'")

    return ObjectStore(embed_paths(str(paths_root)), parse_network, format_network, not_found)


def test_object_store_sees_dotfile_objects_from_a_new_process(tmp_path: Path) -> None:
    store = _net_store(tmp_path)
    for i, name in enumerate(DOT_NAMES):
        store.save_config(parse_network(NET.format(name=name, uuid=uuid_of(i), bridge=f"pv{i}")))
    store.mark_running(parse_network(NET.format(name=".run", uuid=uuid_of(9), bridge="pv9")))
    later = _net_store(tmp_path)
    assert later.names() == sorted((*DOT_NAMES, ".run"))
    assert [(e.defn.name, e.active, e.persistent) for e in later.all()] == sorted(
        [(n, False, True) for n in DOT_NAMES] + [(".run", True, False)]
    )
    assert {e.defn.uuid for e in later.all()} == {uuid_of(0), uuid_of(1), uuid_of(2), uuid_of(9)}


def test_object_store_refuses_names_it_cannot_store(tmp_path: Path) -> None:
    store = _net_store(tmp_path)
    with pytest.raises(NotFoundError, match="no network with matching name"):
        store.get(TOO_LONG)  # a lookup: nothing can have that name
    for call in (store.find, lambda n: store.save_config(parse_network(NET.format(name=n, uuid=uuid_of(1),
                                                                                  bridge="pv1")))):  # fmt: skip
        with pytest.raises(SystemCallError, match="File name too long"):
            call(TOO_LONG)
    with pytest.raises(XMLError, match="invalid char in name: \n"):
        store.save_config(parse_network(NET.format(name="a\nb", uuid=uuid_of(2), bridge="pv2")))
    store.save_config(parse_network(NET.format(name=LONGEST, uuid=uuid_of(3), bridge="pv3")))
    assert _net_store(tmp_path).names() == [LONGEST]


def test_temporary_files_never_look_like_definitions(tmp_path: Path) -> None:
    """atomic_write's temporary name does not grow with the name, nor end in .xml."""
    target = tmp_path / f"{LONGEST}.xml"
    assert storable(LONGEST) and not storable(LONGEST + "n")
    atomic_write(str(target), b"<x/>")
    assert os.listdir(tmp_path) == [target.name] and definition_files(str(tmp_path)) == [(LONGEST, str(target))]


# ---------------------------------------------------------------- each local driver, through pyvirsh


def pyvirsh(uri: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    p = subprocess.run([*PYVIRSH, "-c", uri, *args], capture_output=True, text=True, timeout=120, check=False)
    assert "Traceback" not in p.stderr, p.stderr
    if check:
        assert p.returncode == 0, (args, p.stderr)
    return p


def needs(scheme: str) -> None:
    if entry_point_value("pyvirt.hypervisor", scheme) is None:
        pytest.skip(f"the {scheme} driver is not installed")


@pytest.mark.parametrize("scheme", ["qemu", "lxc"])
def test_dotfile_guests_are_defined_listed_and_unique_across_processes(scheme: str, tmp_path: Path) -> None:
    needs(scheme)
    uri = f"{scheme}:///embed?root={tmp_path / 'root'}"
    virt = "qemu" if scheme == "qemu" else "lxc"
    for i, name in enumerate(DOT_NAMES):
        xml = tmp_path / f"g{i}.xml"
        xml.write_text(domain(name, uuid_of(i), virt))
        pyvirsh(uri, "define", str(xml))
    assert pyvirsh(uri, "list", "--all", "--name").stdout.split("\n")[:3] == sorted(DOT_NAMES)
    clash = tmp_path / "clash.xml"
    clash.write_text(domain("clash", uuid_of(2), virt))
    p = pyvirsh(uri, "define", str(clash), check=False)
    assert p.returncode == 1 and "domain '.x' is already defined with uuid" in p.stderr
    long = tmp_path / "long.xml"
    long.write_text(domain(TOO_LONG, uuid_of(7), virt))
    p = pyvirsh(uri, "define", str(long), check=False)
    assert p.returncode == 1 and p.stderr.endswith(".xml': File name too long\n") and "error: Failed to" in p.stderr
    lookup = pyvirsh(uri, "dominfo", TOO_LONG, check=False)
    assert lookup.returncode == 1 and lookup.stderr == f"error: failed to get domain '{TOO_LONG}'\n"
    newline = tmp_path / "newline.xml"
    newline.write_text(domain("a&#10;b", uuid_of(8), virt))
    p = pyvirsh(uri, "define", str(newline), check=False)
    assert p.returncode == 1 and "error: invalid char in name: \n\n" in p.stderr
    for name in DOT_NAMES:
        pyvirsh(uri, "undefine", name)
    assert pyvirsh(uri, "list", "--all", "--name").stdout.strip() == ""


LXC_SLEEPER = """<domain type='lxc'><name>{name}</name><memory unit='MiB'>64</memory>
  <os><type>exe</type><init>/bin/sleep</init><initarg>1000</initarg></os>
  <devices><console type='pty'/></devices></domain>"""


def _kill_leftovers(root: Path, container: str | None = None) -> None:
    """Whatever a failed test left running: QEMUs and LXC controllers of ``root``, the container's processes."""
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if str(root).encode() in cmdline and (b"qemu-system" in cmdline or b"pyvirt_lxc.controller" in cmdline):
                os.kill(int(pid), 9)
    for cgroup in Path("/sys/fs/cgroup").glob(f"*/machine/{container}.libvirt-lxc") if container else []:
        with contextlib.suppress(OSError):
            for task in (cgroup / "tasks").read_text().split():
                os.kill(int(task), 9)
            time.sleep(0.2)
            cgroup.rmdir()


@pytest.mark.parametrize("scheme", ["qemu", "lxc"])
def test_a_running_dotfile_guest_is_seen_and_destroyed_by_a_new_process(scheme: str, tmp_path: Path) -> None:
    needs(scheme)
    if os.geteuid() != 0:
        pytest.skip("needs root to run guests")
    if scheme == "qemu" and not shutil.which("qemu-system-x86_64"):
        pytest.skip("qemu-system-x86_64 is not installed")
    root = tmp_path / "root"
    uri = f"{scheme}:///embed?root={root}"
    xml = tmp_path / "g.xml"
    virt = "kvm" if os.access("/dev/kvm", os.R_OK | os.W_OK) else "qemu"
    xml.write_text(LXC_SLEEPER.format(name=".x") if scheme == "lxc" else domain(".x", uuid_of(1), virt))
    try:
        pyvirsh(uri, "create", str(xml))
        listing = pyvirsh(uri, "list").stdout
        assert " .x " in listing and "running" in listing, listing
        assert pyvirsh(uri, "domstate", ".x").stdout.strip() == "running"
        p = pyvirsh(uri, "create", str(xml), check=False)  # the running one counts: no second guest
        assert p.returncode == 1
        pyvirsh(uri, "destroy", ".x")
        assert pyvirsh(uri, "list", "--all", "--name").stdout.strip() == ""
        deadline = time.monotonic() + 10
        while any(n.startswith(".x.") for n in os.listdir(root / "run" / scheme)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [n for n in os.listdir(root / "run" / scheme) if n.startswith(".x.")] == []
    finally:
        _kill_leftovers(root, ".x" if scheme == "lxc" else None)


def test_dotfile_networks_and_pools_count_in_uniqueness_checks(tmp_path: Path) -> None:
    needs("network")
    needs("storage")
    net_uri, pool_uri = (f"{s}:///embed?root={tmp_path / 'root'}" for s in ("network", "storage"))
    net = tmp_path / "net.xml"
    net.write_text(NET.format(name=".x", uuid=uuid_of(1), bridge="pvdot0"))
    pyvirsh(net_uri, "net-define", str(net))
    assert ".x" in pyvirsh(net_uri, "net-list", "--all", "--name").stdout.split()
    net.write_text(NET.format(name="other", uuid=uuid_of(1), bridge="pvdot1"))
    p = pyvirsh(net_uri, "net-define", str(net), check=False)
    assert p.returncode == 1 and "network '.x' is already defined with uuid" in p.stderr
    net.write_text(NET.format(name="other", uuid=uuid_of(2), bridge="pvdot0"))
    p = pyvirsh(net_uri, "net-define", str(net), check=False)
    assert p.returncode == 1 and "bridge name 'pvdot0' already in use" in p.stderr
    net.write_text(NET.format(name=TOO_LONG, uuid=uuid_of(3), bridge="pvdot3"))
    p = pyvirsh(net_uri, "net-define", str(net), check=False)
    assert p.returncode == 1 and p.stderr.rstrip().endswith(".xml': File name too long")
    p = pyvirsh(net_uri, "net-info", TOO_LONG, check=False)
    assert p.returncode == 1 and "no network with matching name" in p.stderr
    net.write_text(NET.format(name="a&#10;b", uuid=uuid_of(4), bridge="pvdot4"))
    p = pyvirsh(net_uri, "net-define", str(net), check=False)
    assert p.returncode == 1 and "error: invalid char in name: \n\n" in p.stderr
    if os.geteuid() == 0:  # a running one (its bridge exists) is seen and stopped by later processes too
        try:
            pyvirsh(net_uri, "net-start", ".x")
            assert pyvirsh(net_uri, "net-list", "--name").stdout.split() == [".x"]
            assert os.path.isdir("/sys/class/net/pvdot0")
            pyvirsh(net_uri, "net-destroy", ".x")
            assert not os.path.exists("/sys/class/net/pvdot0")
        finally:
            subprocess.run(["ip", "link", "del", "pvdot0"], capture_output=True, check=False)

    target = tmp_path / "pooldir"
    target.mkdir()
    pool = tmp_path / "pool.xml"
    pool.write_text(f"<pool type='dir'><name>..</name><target><path>{target}</path></target></pool>")
    pyvirsh(pool_uri, "pool-define", str(pool))
    assert ".." in pyvirsh(pool_uri, "pool-list", "--all", "--name").stdout.split()
    pyvirsh(pool_uri, "pool-start", "..")
    assert pyvirsh(pool_uri, "pool-list", "--name").stdout.split() == [".."]
    pool.write_text(f"<pool type='dir'><name>other</name><target><path>{target}</path></target></pool>")
    p = pyvirsh(pool_uri, "pool-define", str(pool), check=False)
    assert p.returncode == 1 and "'..'" in p.stderr, p.stderr  # the same directory as pool '..'
    pool.write_text(f"<pool type='dir'><name>{TOO_LONG}</name><target><path>{tmp_path}</path></target></pool>")
    p = pyvirsh(pool_uri, "pool-define", str(pool), check=False)
    assert p.returncode == 1 and p.stderr.rstrip().endswith(".xml': File name too long")
    p = pyvirsh(pool_uri, "pool-info", TOO_LONG, check=False)
    assert p.returncode == 1 and "no storage pool with matching name" in p.stderr


def test_qemu_and_lxc_share_an_embedded_root_without_touching_each_other(tmp_path: Path) -> None:
    """Each driver has its own subdirectories of the root (libvirt's R/run/qemu, R/etc/qemu, ...): a qemu
    connection on the root of a running container neither lists nor cleans up the container's files."""
    needs("qemu")
    needs("lxc")
    if os.geteuid() != 0:
        pytest.skip("needs root to run a container")
    root = tmp_path / "root"
    lxc, qemu = f"lxc:///embed?root={root}", f"qemu:///embed?root={root}"
    xml = tmp_path / "ct.xml"
    xml.write_text(LXC_SLEEPER.format(name="shared"))
    try:
        pyvirsh(lxc, "create", str(xml))
        status = next((root / "run").rglob("shared.xml"))  # wherever the driver keeps it: checked below
        files = {p.name: p.read_bytes() for p in status.parent.iterdir() if p.is_file()}
        guest = tmp_path / "vm.xml"
        guest.write_text(domain("vm", uuid_of(5)))
        assert pyvirsh(qemu, "list", "--all", "--name").stdout.strip() == ""
        pyvirsh(qemu, "define", str(guest))
        assert pyvirsh(qemu, "list", "--all", "--name").stdout.split() == ["vm"]
        assert pyvirsh(qemu, "dominfo", "shared", check=False).returncode == 1
        pyvirsh(qemu, "undefine", "vm")
        assert {p.name: p.read_bytes() for p in status.parent.iterdir() if p.is_file()} == files
        assert status == root / "run" / "lxc" / "shared.xml" and (root / "run" / "qemu").is_dir()
        assert pyvirsh(lxc, "domstate", "shared").stdout.strip() == "running"
        assert pyvirsh(lxc, "list", "--name").stdout.split() == ["shared"]
        pyvirsh(lxc, "destroy", "shared")
    finally:
        _kill_leftovers(root, "shared")


def test_dotfile_snapshot_names_are_refused_as_libvirt_refuses_them(tmp_path: Path) -> None:
    """Snapshots are files named after them too; libvirt's qemu driver refuses a leading '.' (and '/')."""
    needs("qemu")
    uri = f"qemu:///embed?root={tmp_path / 'root'}"
    xml = tmp_path / "g.xml"
    xml.write_text(domain("g", uuid_of(1)))
    pyvirsh(uri, "define", str(xml))
    for name in DOT_NAMES:
        p = pyvirsh(uri, "snapshot-create-as", "g", name, check=False)
        assert p.returncode == 1
        assert p.stderr == f"error: invalid snapshot name '{name}': name can't start with '.'\n"
    assert pyvirsh(uri, "snapshot-list", "g", "--name").stdout.strip() == ""
