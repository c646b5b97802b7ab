"""The QEMU driver's lookups never wait: pyvirtd answers them on its event loop on that promise.

The driver declares them in ``pyvirt_never_blocks``; were one of them to take
a domain's lock or wait for its job, a start holding that lock would stall
every client of the daemon. Here another thread holds everything a domain
and the driver can be held by (the table's lock, the domain's data lock and
a modifying job) while the declared lookups are made, each with a deadline.
"""

from __future__ import annotations

import threading

import pyvirt
from pyvirt.local_driver.domain_jobs import Job

GUEST = "<domain type='qemu'><name>held</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>"


def test_declared_lookups_answer_while_the_domain_is_held(conn: pyvirt.Connection) -> None:
    dom = conn.define_domain(GUEST)
    calls = conn.calls
    driver = calls._single["domain_lookup_by_name"].__self__
    declared = set(driver.pyvirt_never_blocks)
    assert declared == {"domain_lookup_by_name", "domain_lookup_by_uuid", "domain_lookup_by_id"}
    assert all(calls.never_blocks(hook) for hook in declared), "declared, but not honoured by the facade"

    state = driver.state
    obj = state.by_name["held"]
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with obj.job.holding(Job.MODIFY), state.lock, obj.lock:
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert holding.wait(10)
    answers: dict[str, object] = {}

    def look_up() -> None:
        answers["name"] = calls.domain_lookup_by_name(name="held").uuid
        answers["uuid"] = calls.domain_lookup_by_uuid(uuid=dom.uuid).name
        try:
            calls.domain_lookup_by_id(id=12345)
        except pyvirt.Error as e:
            answers["id"] = e.code

    try:
        looker = threading.Thread(target=look_up, daemon=True)
        looker.start()
        looker.join(5)
        assert not looker.is_alive(), "a lookup declared never to block waited for the held domain"
    finally:
        release.set()
        holder.join(10)
    assert answers == {"name": dom.uuid, "uuid": "held", "id": pyvirt.ErrorCode.NO_DOMAIN}
