"""Children started with chosen uid/gid/groups/capabilities hold exactly those.

Every case starts a real process through Command and reads
/proc/PID/status while it runs.
"""

from __future__ import annotations

import os

import pytest

from pyvirt.errors import ErrorCode, InvalidArgumentError
from pyvirt.util.caps import (
    CAPABILITY_NUMBERS,
    capability_name,
    last_capability,
    parse_capabilities,
    parse_capability,
    read_process_caps,
)
from pyvirt.util.command import Command

pytestmark = pytest.mark.usefixtures("root_only")

NOBODY = 65534


def spawn_sleeper(cmd: Command) -> Command:
    cmd.run_async()
    return cmd


def caps_of(cmd: Command) -> tuple[frozenset[int], ...]:
    assert cmd.pid is not None
    st = read_process_caps(cmd.pid)
    return st.inheritable, st.permitted, st.effective, st.bounding, st.ambient


def names(*caps: str) -> frozenset[int]:
    return parse_capabilities(caps)


def test_names_parse_case_insensitively_with_or_without_prefix() -> None:
    assert parse_capability("sys_rawio") == 17
    assert parse_capability("CAP_SYS_RAWIO") == 17
    assert parse_capability("Cap_Sys_RawIO") == 17
    assert parse_capability("net_admin") == 12
    assert capability_name(17) == "sys_rawio"
    assert max(CAPABILITY_NUMBERS.values()) >= last_capability() - 0


def test_unknown_capability_name_is_an_error() -> None:
    with pytest.raises(InvalidArgumentError) as err:
        parse_capability("sys_rawio_typo")
    assert err.value.code == ErrorCode.INVALID_ARG
    assert "sys_rawio_typo" in err.value.message
    with pytest.raises(InvalidArgumentError):
        Command(["/bin/true"]).set_capabilities(["net_admin", "cap_flying"])


CASES = [
    # uid, gid, groups, caps
    (NOBODY, NOBODY, [], ["sys_rawio"]),
    (NOBODY, 100, [5, 6, 7], ["net_admin", "net_raw"]),
    (1000, 1000, [1000, 27], []),
    (0, 0, [], ["chown", "dac_override"]),
    (4242, 4343, [4444], ["sys_rawio", "ipc_lock", "sys_nice"]),
    (NOBODY, NOBODY, [], ["setuid", "setgid"]),  # asked-for temp caps must stay
    (NOBODY, NOBODY, [], ["setpcap"]),
]


@pytest.mark.parametrize(("uid", "gid", "groups", "wanted"), CASES)
def test_child_holds_exactly_the_requested_identity_and_caps(
    uid: int, gid: int, groups: list[int], wanted: list[str]
) -> None:
    cmd = Command(["/bin/sleep", "30"]).set_uid(uid).set_gid(gid).set_groups(groups).set_capabilities(wanted)
    spawn_sleeper(cmd)
    try:
        st = read_process_caps(cmd.pid)  # type: ignore[arg-type]
        want = names(*wanted)
        assert st.uids == (uid, uid, uid, uid)
        assert st.gids == (gid, gid, gid, gid)
        assert sorted(st.groups) == sorted(groups)
        assert st.effective == want
        assert st.permitted == want
        assert st.inheritable == want
        assert st.bounding == want
        assert st.ambient == want  # what lets the caps survive exec as non-root
    finally:
        cmd.abort()


def test_clear_all_caps_leaves_nothing_even_for_root() -> None:
    cmd = Command(["/bin/sleep", "30"]).clear_capabilities()
    cmd.run_async()
    try:
        inh, prm, eff, bnd, amb = caps_of(cmd)
        assert inh == prm == eff == bnd == amb == frozenset()
        assert read_process_caps(cmd.pid).uids[0] == 0  # type: ignore[arg-type]
    finally:
        cmd.abort()


def test_default_groups_come_from_the_users_group_list() -> None:
    import pwd

    pw = pwd.getpwnam("nobody")
    cmd = Command(["/bin/sleep", "30"]).set_uid(pw.pw_uid).set_gid(pw.pw_gid)
    cmd.run_async()
    try:
        st = read_process_caps(cmd.pid)  # type: ignore[arg-type]
        assert sorted(st.groups) == sorted(set(os.getgrouplist(pw.pw_name, pw.pw_gid)))
        # uid change without explicit caps: nothing survives
        assert st.effective == st.permitted == st.ambient == frozenset()
    finally:
        cmd.abort()


def test_securebits_lock_is_applied_before_setpcap_is_dropped() -> None:
    """capsh (libcap2-bin) reports the securebits the child really runs with."""
    import prctl

    cmd = (
        Command(["/sbin/capsh", "--print"])
        .set_uid(NOBODY)
        .set_gid(NOBODY)
        .set_groups([])
        .set_capabilities(["net_raw"])
        .lock_securebits()
        .capture_stdout()
    )
    cmd.run(timeout=30)
    line = next(ln for ln in cmd.stdout.decode().splitlines() if ln.startswith("Securebits:"))
    bits = int(line.split("/")[1], 16)
    expected = (
        prctl.SECBIT_NOROOT
        | prctl.SECBIT_NOROOT_LOCKED
        | prctl.SECBIT_NO_SETUID_FIXUP
        | prctl.SECBIT_NO_SETUID_FIXUP_LOCKED
        | prctl.SECBIT_KEEP_CAPS_LOCKED
    )
    assert bits == expected, line
    assert "Current: cap_net_raw=eip" in cmd.stdout.decode()


def test_dropping_a_named_set_removes_it_from_every_set_including_bounding() -> None:
    """The LXC pattern: keep root, lose a list of dangerous caps for good."""
    drop = ["sys_module", "sys_time", "mknod", "audit_control", "mac_admin", "sys_boot"]
    import sys

    script = (
        f"import sys; sys.path[:0] = {sys.path!r}\n"
        "from pyvirt.util.caps import drop_capabilities\n"
        "import os\n"
        f"drop_capabilities({drop!r})\n"
        "os.execv('/bin/sleep', ['sleep', '30'])\n"
    )

    cmd = Command([sys.executable, "-c", script]).pass_env_common()
    cmd.run_async()
    try:
        import time

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(f"/proc/{cmd.pid}/comm") as f:
                if f.read().strip() == "sleep":
                    break
            time.sleep(0.02)
        st = read_process_caps(cmd.pid)  # type: ignore[arg-type]
        gone = names(*drop)
        for s in (st.effective, st.permitted, st.inheritable, st.bounding, st.ambient):
            assert not (s & gone)
        mine = read_process_caps()
        assert st.effective == mine.effective - gone
    finally:
        cmd.abort()
