"""The public API over the test driver's I/O threads, guest file systems and interface changes.

What a libvirt-python user of ``test:///default`` sees: the records, the
counts and libvirt's error codes, and the checks libvirt's library makes
before any driver (a zero I/O thread id to delete). Each answer is libvirt
9.0's test driver's (src/test/test_driver.c).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import pyvirt
from pyvirt.errors import Error, ErrorCode
from pyvirt.plugin.records import FSInfo, IOThreadInfo
from pyvirt.plugin.typed_params import TypedParam, TypedParamType


@pytest.fixture
def conn() -> Iterator[pyvirt.Connection]:
    with pyvirt.open("test:///default") as c:
        yield c


def _code(fn: object, *args: object) -> tuple[int, str]:
    with pytest.raises(Error) as info:
        fn(*args)  # type: ignore[operator]
    return info.value.code, info.value.message


def test_iothreads_live_in_the_definition_the_flags_name(conn: pyvirt.Connection) -> None:
    dom = conn.lookup_domain_by_name("test")
    assert dom.iothread_info() == []
    dom.add_iothread(4)
    dom.add_iothread(2, 2)  # the persistent definition only
    assert dom.iothread_info() == [IOThreadInfo(4, b"\x03")]  # the domain's two vCPUs
    assert dom.iothread_info(2) == [IOThreadInfo(2, b"\x03")]
    dom.pin_iothread(4, b"\x80")
    assert dom.iothread_info() == [IOThreadInfo(4, b"\x80")]
    assert "<iothreadpin iothread='4' cpuset='7'/>" in dom.xml_desc()
    dom.del_iothread(4)
    assert dom.iothread_info() == [] and "iothread" not in dom.xml_desc()


def test_library_and_driver_refusals(conn: pyvirt.Connection) -> None:
    dom = conn.lookup_domain_by_name("test")
    assert _code(dom.del_iothread, 0) == (ErrorCode.INVALID_ARG, "iothread_id in virDomainDelIOThread must not be zero")
    assert _code(dom.add_iothread, 0) == (ErrorCode.INVALID_ARG, "invalid argument: invalid value of 0 for iothread_id")
    dom.add_iothread(1)
    assert _code(dom.add_iothread, 1)[1] == "invalid argument: an IOThread is already using iothread_id '1'"
    assert _code(dom.pin_iothread, 1, b"\0")[1] == "invalid argument: Empty iothread cpumap list for pinning"
    grow = [TypedParam("poll_grow", TypedParamType.UINT, 3)]
    dom.set_iothread_params(1, grow)
    wrong = [TypedParam("poll_grow", TypedParamType.INT, 3)]
    assert _code(dom.set_iothread_params, 1, wrong)[1] == (
        "invalid argument: invalid type 'int' for parameter 'poll_grow', expected 'uint'"
    )
    assert _code(dom.set_iothread_params, 1, grow, 2)[0] == ErrorCode.INVALID_ARG  # unsupported flags (CONFIG)


def test_a_defined_domains_threads_have_no_polling_values(conn: pyvirt.Connection) -> None:
    """testDomainGenerateIOThreadInfos runs for the fixture's domains only: libvirt fails without a reason."""
    xml = "<domain type='test'><name>io</name><memory>1024</memory><iothreads>1</iothreads><os><type>hvm</type></os></domain>"
    dom = conn.define_domain(xml)
    assert dom.iothread_info() == [IOThreadInfo(1, b"\x01")]
    grow = [TypedParam("poll_grow", TypedParamType.UINT, 3)]
    assert _code(dom.set_iothread_params, 1, grow) == (
        ErrorCode.INTERNAL_ERROR,
        "An error occurred, but the cause is unknown",
    )


def test_guest_file_systems(conn: pyvirt.Connection) -> None:
    dom = conn.lookup_domain_by_name("test")
    assert dom.fs_info() == [FSInfo("/", "vda1", "ext4", ["vda"]), FSInfo("/boot", "vda2", "ext4", ["vda"])]
    assert dom.fs_freeze(["/boot"]) == 1
    assert dom.fs_freeze() == 1
    assert _code(dom.fs_thaw, ["/", "/x"]) == (ErrorCode.OPERATION_INVALID,
                                              "Requested operation is not valid: mount point not found: /x")  # fmt: skip
    assert dom.fs_thaw() == 2  # the failed call changed nothing
    dom.fs_trim("/boot", 1 << 20)
    dom.destroy()
    assert _code(dom.fs_info)[0] == ErrorCode.OPERATION_INVALID


def test_interface_transaction_rolls_back_definitions_not_states(conn: pyvirt.Connection) -> None:
    eth1 = conn.lookup_interface_by_name("eth1")
    assert eth1.is_active()
    conn.interface_change_begin()
    assert _code(conn.interface_change_begin)[1].endswith("there is another transaction running.")
    new = conn.define_interface("<interface type='ethernet' name='eth2'><mac address='52:54:00:00:00:02'/></interface>")
    assert (new.name, new.mac, new.is_active()) == ("eth2", "52:54:00:00:00:02", False)
    new.create()
    assert _code(new.create) == (ErrorCode.OPERATION_INVALID, "Requested operation is not valid")
    eth1.undefine()
    conn.interface_change_rollback()
    assert [(i.name, i.is_active()) for i in conn.list_all_interfaces()] == [("eth1", False)]
    assert _code(conn.interface_change_commit)[1].endswith("no transaction running, nothing to be committed.")
