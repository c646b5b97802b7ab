"""A vSphere login kept between runs (as govc keeps it), against vcsim: reused, renewed, never given to a wrong password.

Each test has its own cache directory (``XDG_CACHE_HOME``), so what one
keeps is not what another finds.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from pyvirt_esx.session_cache import CachedSession, SessionCache, cache_directory
from pyvirt_esx.vsphere import Session
from vcsim import PASSWORD, USER, Simulator

from pyvirt.errors import Error, ErrorCode
from pyvirt.uri import parse_uri

pytestmark = pytest.mark.usefixtures("auth_file", "own_cache")
PYVIRSH = str(Path(sys.executable).with_name("pyvirsh"))


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def open_session(sim: Simulator) -> Session:
    return Session(parse_uri(sim.uri()))


def kept_files() -> list[Path]:
    directory = Path(cache_directory())
    return sorted(directory.glob("*.json")) if directory.exists() else []


def cookie_of(session: Session) -> str:
    return str(session.si._stub.cookie)


def test_second_run_reuses_the_login(esx_sim: Simulator) -> None:
    first = open_session(esx_sim)
    assert not first.reused and first.kept
    cookie = cookie_of(first)
    first.close()  # a kept session is not logged out
    (path,) = kept_files()
    second = open_session(esx_sim)
    try:
        assert second.reused and cookie_of(second) == cookie
        # the kept session works for real calls, and the listing needs no datacenter lookup first
        names = {props["name"] for _, props in second.vm_table(["name"])}
        assert "ha-host_VM0" in names
        assert second._located is None
    finally:
        second.close()
    assert kept_files() == [path]


def test_file_is_the_users_alone_and_holds_no_password(esx_sim: Simulator) -> None:
    open_session(esx_sim).close()
    (path,) = kept_files()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text()
    assert PASSWORD not in text and USER not in path.name
    assert json.loads(text)["cookie"]


def test_a_file_others_can_read_is_not_trusted(esx_sim: Simulator) -> None:
    first = open_session(esx_sim)
    cookie = cookie_of(first)
    first.close()
    (path,) = kept_files()
    os.chmod(path, 0o644)
    second = open_session(esx_sim)
    try:
        assert not second.reused and cookie_of(second) != cookie  # a fresh login, whatever the file said
        assert stat.S_IMODE(path.stat().st_mode) == 0o600  # and the file written anew, the user's alone
    finally:
        second.close()


def test_expired_session_gets_a_fresh_login(esx_sim: Simulator) -> None:
    first = open_session(esx_sim)
    cookie = cookie_of(first)
    first.content.sessionManager.Logout()  # what the host does to a session that has been idle too long
    first.si._stub.DropConnections()
    second = open_session(esx_sim)
    try:
        assert not second.reused and cookie_of(second) != cookie
        assert {props["name"] for _, props in second.vm_table(["name"])} >= {"ha-host_VM0"}
    finally:
        second.close()
    third = open_session(esx_sim)  # the renewed session is the one kept now
    try:
        assert third.reused and cookie_of(third) == cookie_of(second)
    finally:
        third.close()


def test_wrong_password_is_never_served_from_the_cache(
    esx_sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_session(esx_sim).close()  # a live session is kept for root
    assert kept_files()
    wrong = tmp_path / "wrong.conf"
    wrong.write_text(f"[credentials-x]\nusername={USER}\npassword=not-{PASSWORD}\n[auth-esx-default]\ncredentials=x\n")
    monkeypatch.setenv("LIBVIRT_AUTH_FILE", str(wrong))
    with pytest.raises(Error) as err:
        open_session(esx_sim)
    assert err.value.code == ErrorCode.AUTH_FAILED and "InvalidLogin" in err.value.message
    # and through pyvirsh, as a user would see it
    result = subprocess.run([PYVIRSH, "-c", esx_sim.uri(), "list", "--all"], capture_output=True, text=True,
                            timeout=120, env=dict(os.environ), check=False)  # fmt: skip
    assert result.returncode == 1 and "InvalidLogin" in result.stderr


def test_changed_password_logs_in_again(esx_sim: Simulator) -> None:
    """A session kept for another password (the one before a change) is not the current password's."""
    first = open_session(esx_sim)
    live_cookie = cookie_of(first)
    first.close()
    cache = SessionCache("esx", "https", esx_sim.host, esx_sim.port, USER)
    kept = cache.load(PASSWORD)
    assert kept is not None and kept.cookie == live_cookie
    assert cache.store("the-old-password", CachedSession(kept.version, live_cookie, kept.content))
    second = open_session(esx_sim)
    try:
        assert not second.reused and cookie_of(second) != live_cookie
    finally:
        second.close()
    assert cache.load("the-old-password") is None and cache.load(PASSWORD) is not None


def test_pyvirsh_runs_share_one_login(esx_sim: Simulator) -> None:
    env = dict(os.environ)
    for _ in range(2):
        result = subprocess.run([PYVIRSH, "-c", esx_sim.uri(), "list", "--all"], capture_output=True, text=True,
                                timeout=120, env=env, check=False)  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "ha-host_VM0" in result.stdout
    (path,) = kept_files()
    cookie = json.loads(path.read_text())["cookie"]
    session = open_session(esx_sim)
    try:
        assert session.reused and cookie_of(session) == cookie
    finally:
        session.close()
