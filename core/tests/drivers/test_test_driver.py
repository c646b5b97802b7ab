"""The test:/// driver through the public API: a user's story per test."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import pyvirt
from pyvirt import DomainEvent, DomainState, ErrorCode
from pyvirt.events import Defined, Resumed, Started, Stopped, Suspended, Undefined

DATA = Path(__file__).resolve().parent.parent / "data"
GUEST_X = (DATA / "guest-x.xml").read_text()


@pytest.fixture
def conn() -> Iterator[pyvirt.Connection]:
    with pyvirt.open("test:///default") as c:
        yield c


def test_default_fixture_is_libvirts(conn: pyvirt.Connection) -> None:
    dom = conn.lookup_domain_by_name("test")
    assert (dom.id, dom.uuid) == (1, "6695eb01-f6a4-8304-79aa-97f2502e193f")
    info = dom.info()
    assert (info.state, info.max_memory_kib, info.memory_kib, info.vcpus) == (1, 8388608, 2097152, 2)
    assert conn.lookup_domain_by_id(1) == dom == conn.lookup_domain_by_uuid("6695eb01f6a4830479aa97f2502e193f")
    assert conn.lookup_network_by_name("default").uuid == "dd8fe884-6c02-601e-7551-cca97df1c5df"
    assert conn.lookup_storage_pool_by_name("default-pool").info().capacity == 100 * 1024**3
    assert conn.lookup_interface_by_name("eth1").mac == "aa:bb:cc:dd:ee:ff"
    assert [d.name for d in conn.list_all_node_devices()] == ["computer", "scsi_host1", "scsi_host11", "scsi_host2"]
    assert [d.name for d in conn.list_all_node_devices("fc_host")] == ["scsi_host1", "scsi_host11", "scsi_host2"]
    assert conn.get_node_info().cpus == 16 and conn.get_type() == "TEST"


def test_lifecycle_with_states_reasons_and_events(conn: pyvirt.Connection) -> None:
    events: list[tuple[str, int, int]] = []
    cid = conn.register_domain_event(lambda ev: events.append((ev.domain.name, ev.event, ev.detail)))
    dom = conn.define_domain(GUEST_X)
    assert dom.state() == (DomainState.SHUTOFF, 0) and dom.id == -1
    dom.create()
    assert dom.id > 1 and dom.state() == (DomainState.RUNNING, 1)
    dom.suspend()
    assert dom.state() == (DomainState.PAUSED, 1)
    dom.resume()
    assert dom.state() == (DomainState.RUNNING, 5)
    dom.destroy()
    assert dom.state() == (DomainState.SHUTOFF, 2) and dom.id == -1
    dom.undefine()
    conn.deregister_domain_event(cid)
    assert events == [
        ("x", DomainEvent.DEFINED, Defined.ADDED),
        ("x", DomainEvent.STARTED, Started.BOOTED),
        ("x", DomainEvent.SUSPENDED, Suspended.PAUSED),
        ("x", DomainEvent.RESUMED, Resumed.UNPAUSED),
        ("x", DomainEvent.STOPPED, Stopped.DESTROYED),
        ("x", DomainEvent.UNDEFINED, Undefined.REMOVED),
    ]
    with pytest.raises(pyvirt.NotFoundError) as e:
        conn.lookup_domain_by_name("x")
    assert e.value.message == "Domain not found: no domain with matching name 'x'"


def test_events_filtered_per_domain_and_delivered_in_order_across_threads(conn: pyvirt.Connection) -> None:
    seen: list[int] = []
    test_dom = conn.lookup_domain_by_name("test")
    cid = conn.register_domain_event(lambda ev: seen.append(ev.event), test_dom)
    other = conn.define_domain(GUEST_X)
    other.create()
    for _ in range(20):
        test_dom.suspend()
        test_dom.resume()
    t = threading.Thread(target=other.destroy)
    t.start()
    t.join()
    other.undefine()
    conn.deregister_domain_event(cid)
    assert seen == [DomainEvent.SUSPENDED, DomainEvent.RESUMED] * 20
    with pytest.raises(pyvirt.InvalidArgumentError):
        conn.deregister_domain_event(cid)


def test_transient_domains_vanish_when_stopped(conn: pyvirt.Connection) -> None:
    dom = conn.create_domain(GUEST_X)
    assert dom.is_active() and not dom.is_persistent()
    dom.destroy()
    with pytest.raises(pyvirt.NotFoundError):
        conn.lookup_domain_by_name("x")


def test_redefining_a_running_domain_updates_the_next_boot_only(conn: pyvirt.Connection) -> None:
    dom = conn.define_domain(GUEST_X)
    dom.create()
    conn.define_domain(GUEST_X.replace("<vcpu>2</vcpu>", "<vcpu>4</vcpu>"))
    assert dom.is_updated()
    assert dom.info().vcpus == 2
    assert "<vcpu placement='static'>4</vcpu>" in dom.xml_desc(2)
    dom.destroy()
    assert dom.info().vcpus == 4
    dom.undefine()


def test_save_restore_and_managed_save(conn: pyvirt.Connection, tmp_path: Path) -> None:
    dom = conn.lookup_domain_by_name("test")
    image = tmp_path / "test.save"
    dom.save(str(image))
    assert dom.state() == (DomainState.SHUTOFF, 5)
    restored = conn.restore_domain(str(image))
    assert restored.state() == (DomainState.RUNNING, 3)
    restored.managed_save()
    assert restored.has_managed_save() and restored.state() == (DomainState.SHUTOFF, 5)
    with pytest.raises(pyvirt.OperationInvalidError):
        restored.undefine()
    restored.create()
    assert not restored.has_managed_save()
    with pytest.raises(pyvirt.Error) as e:
        conn.restore_domain(str(tmp_path / "missing"))
    assert e.value.code == ErrorCode.SYSTEM_ERROR


def test_snapshots(conn: pyvirt.Connection) -> None:
    dom = conn.lookup_domain_by_name("test")
    s1 = dom.snapshot_create("<domainsnapshot><name>s1</name><description>first</description></domainsnapshot>")
    s2 = dom.snapshot_create("<domainsnapshot><name>s2</name></domainsnapshot>")
    assert [s.name for s in dom.list_snapshots()] == ["s1", "s2"]
    assert dom.snapshot_current().name == "s2" and s2.parent().name == "s1"
    dom.destroy()
    s1.revert()
    assert dom.state() == (DomainState.RUNNING, 4)
    s1.delete(1)  # with children
    assert dom.list_snapshots() == []
    with pytest.raises(pyvirt.NotFoundError) as e:
        dom.snapshot_current()
    assert e.value.code == ErrorCode.NO_DOMAIN_SNAPSHOT


def test_networks_pools_volumes_secrets(conn: pyvirt.Connection) -> None:
    net = conn.define_network((DATA / "net-n2.xml").read_text())
    assert not net.is_active() and net.is_persistent()
    net.create()
    net.autostart = True
    assert [n.name for n in conn.list_all_networks(2)] == ["default", "n2"]
    net.destroy()
    net.undefine()
    pool = conn.lookup_storage_pool_by_name("default-pool")
    vol = pool.create_volume(
        "<volume><name>d.img</name><capacity unit='G'>2</capacity><allocation>0</allocation></volume>"
    )
    assert vol.path() == "/default-pool/d.img" and vol.info().capacity == 2 * 1024**3
    assert conn.lookup_storage_volume_by_path("/default-pool/d.img").name == "d.img"
    with pytest.raises(pyvirt.Error) as e:
        pool.create_volume("<volume><name>d.img</name><capacity>1</capacity></volume>")
    # libvirt's test driver: OPERATION_FAILED "storage vol already exists" (the storage driver has STORAGE_VOL_EXIST)
    assert (
        e.value.code == ErrorCode.OPERATION_FAILED and e.value.message == "operation failed: storage vol already exists"
    )
    vol.delete()
    sec = conn.define_secret(
        "<secret ephemeral='no' private='no'><usage type='ceph'><name>client.admin</name></usage></secret>"
    )
    sec.set_value(b"s3cr3t")
    assert conn.lookup_secret_by_usage(2, "client.admin").get_value() == b"s3cr3t"
    sec.undefine()
    assert conn.list_all_secrets() == []


def test_read_only_connections_refuse_writes_with_code_29() -> None:
    with pyvirt.open_readonly("test:///default") as ro:
        assert ro.lookup_domain_by_name("test").info().state == 1
        for call in (
            lambda: ro.define_domain(GUEST_X),
            lambda: ro.lookup_domain_by_name("test").destroy(),
            lambda: ro.lookup_network_by_name("default").destroy(),
            lambda: ro.define_secret("<secret/>"),
        ):
            with pytest.raises(pyvirt.OperationDeniedError) as e:
                call()
            assert e.value.code == 29
            assert e.value.message.startswith("operation forbidden: read only access prevents vir")
        assert ro.lookup_domain_by_name("test").is_active()


def test_closed_connection_is_closed_for_good() -> None:
    conn = pyvirt.open("test:///default")
    conn.close()
    conn.close()
    with pytest.raises(pyvirt.ConnectionError) as e:
        conn.lookup_domain_by_name("test")
    assert e.value.code == ErrorCode.INVALID_CONN


def test_file_fixture_in_libvirts_node_format(tmp_path: Path) -> None:
    (tmp_path / "dom2.xml").write_text(
        GUEST_X.replace("<name>x</name>", "<name>fromfile</name>").replace(
            "4ddd5d32-15af-46e8-a160-f8db1b544707", "11111111-2222-3333-4444-555555555555"
        )
    )
    node = tmp_path / "node.xml"
    node.write_text(f"""<node xmlns:test='http://libvirt.org/schemas/domain/test'>
  <cpu><nodes>1</nodes><sockets>1</sockets><cores>4</cores><threads>1</threads><mhz>3000</mhz><model>x86_64</model></cpu>
  <memory>8192000</memory>
  {GUEST_X.replace("</domain>", "<test:runstate>3</test:runstate></domain>")}
  <domain file='dom2.xml'/>
  <pool type='dir'><name>p</name><target><path>/p</path></target>
    <volume><name>v</name><capacity>1024</capacity></volume></pool>
</node>""")
    with pyvirt.open(f"test://{node}") as conn:
        assert conn.get_node_info().cpus == 4 and conn.get_node_info().mhz == 3000
        assert conn.lookup_domain_by_name("x").state() == (DomainState.PAUSED, 0)
        assert conn.lookup_domain_by_name("fromfile").is_active()
        assert [v.name for v in conn.lookup_storage_pool_by_name("p").list_all_volumes()] == ["v"]
    with pyvirt.open("test:///default") as other, pytest.raises(pyvirt.NotFoundError):
        other.lookup_domain_by_name("fromfile")


LAZY_DEFAULT = """
import sys, threading
import pyvirt
conn = pyvirt.open("test:///default")
listed = [(d.id, d.name, d.state()[0]) for d in conn.list_all_domains()]
untouched = sorted(m for m in ("lxml.etree", "pyvirt.conf.xmlmodel") if m in sys.modules)  # models bind lazily
dom = conn.lookup_domain_by_name("test")
seen, barrier = [], threading.Barrier(8)
def first_reads():
    barrier.wait()
    seen.append((dom.xml_desc(), tuple(n.name for n in conn.list_all_networks()), len(conn.list_all_node_devices()),
                 tuple(dom.security_labels())))
threads = [threading.Thread(target=first_reads) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(repr(([(i, n, int(s)) for i, n, s in listed], untouched, len(set(seen)), seen[0][1:3], tuple(tuple(x) for x in seen[0][3]))))
"""


def test_default_state_is_parsed_on_first_use_once_for_all_threads() -> None:
    """Listing test:///default loads no XML model; eight threads' first reads all see one whole state."""
    import ast
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", LAZY_DEFAULT], capture_output=True, text=True, timeout=60, check=True)
    listed, untouched, distinct, resources, labels = ast.literal_eval(out.stdout)
    assert listed == [(1, "test", DomainState.RUNNING)] and untouched == []
    assert distinct == 1 and resources == (("default",), 4)
    assert labels == (("libvirt-test", True),)  # the running domain's label, as libvirt's test driver reports it


def test_network_lifecycle_events_in_order(conn: pyvirt.Connection) -> None:
    from pyvirt.events import NetworkEvent, NetworkLifecycleEvent

    seen: list[tuple[str, int]] = []
    only_n2: list[int] = []

    def on_any(ev: NetworkLifecycleEvent) -> None:
        seen.append((ev.network.name, ev.event))

    every = conn.register_network_event(on_any)
    n2 = conn.define_network((DATA / "net-n2.xml").read_text())
    one = conn.register_network_event(lambda ev: only_n2.append(ev.event), n2)
    conn.lookup_network_by_name("default").destroy()
    n2.create()
    n2.destroy()
    n2.undefine()
    conn.lookup_network_by_name("default").create()
    conn.deregister_network_event(every)
    conn.deregister_network_event(one)
    conn.lookup_network_by_name("default").destroy()  # no callbacks left: nobody hears this one
    conn.lookup_network_by_name("default").create()
    d, u, s, t = NetworkEvent.DEFINED, NetworkEvent.UNDEFINED, NetworkEvent.STARTED, NetworkEvent.STOPPED
    assert seen == [("n2", d), ("default", t), ("n2", s), ("n2", t), ("n2", u), ("default", s)]
    assert only_n2 == [s, t, u]
    with pytest.raises(pyvirt.Error) as err:
        conn.deregister_network_event(every)
    assert err.value.code == ErrorCode.INVALID_ARG
