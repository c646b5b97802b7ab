"""Scheduler parameters, screenshots and checkpoints through pyvirtd, with clients nobody here wrote.

The oracle is libvirt's own test driver: the same virsh script runs in virsh's
process against ``test:///default`` and against pyvirtd's, and prints the
same. libvirt-python (Debian's python3-libvirt) reads a screenshot stream to
its end and finishes it, which needs the daemon's end-of-data message to be
libvirt's. Raw calls check what only a hand-made client can send.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.errors import Error, ErrorCode
from pyvirt.remote import _remote
from pyvirt.remote.client import RemoteClient, connect_unix

pytestmark = pytest.mark.skipif(shutil.which("virsh") is None, reason="Debian's virsh (libvirt-clients) is needed")

PROCS = {p.name.removeprefix("REMOTE_PROC_"): p for p in _remote.PROCEDURES.values()}
TEST_UUID = bytes.fromhex("6695eb01f6a4830479aa97f2502e193f")
TEST_DOM = ("test", TEST_UUID, 1)

SCRIPT = """\
schedinfo test
schedinfo test --weight 100
schedinfo test --config
schedinfo test --set cap=1
schedinfo test --set weight=abc
screenshot test {dir}/shot.png
screenshot test /nonexistent/x.png
checkpoint-create-as test c1
checkpoint-create-as test c2 hello
checkpoint-list test --parent
checkpoint-list test --tree
checkpoint-list test --from c1 --name
checkpoint-dumpxml test c2
checkpoint-dumpxml test c1 --no-domain --xpath //disk
snapshot-create-as test s1
checkpoint-delete test c1
checkpoint-list test --parent
checkpoint-delete test nosuch
checkpoint-create-as test .bad
"""


def _mask(text: str) -> str:
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}", "DATE", text)
    return re.sub(r"<creationTime>\d+</creationTime>", "<creationTime>T</creationTime>", text)


def _virsh(uri: str, script: str) -> subprocess.CompletedProcess[str]:
    """The script's lines as one command string (virsh's interactive echo would wrap long paths)."""
    env = dict(os.environ, LC_ALL="C")
    line = "; ".join(script.strip().splitlines())
    return subprocess.run(["virsh", "-c", uri, line], capture_output=True, text=True, env=env, timeout=120,
                          check=False)  # fmt: skip


def test_virsh_through_pyvirtd_prints_what_libvirts_test_driver_prints(pyvirtd: PrivateDaemon, tmp_path: Path) -> None:
    results = []
    for name, uri in (("libvirt", "test:///default"), ("pyvirtd", pyvirtd.uri())):
        work = tmp_path / name
        work.mkdir()
        run = _virsh(uri, SCRIPT.format(dir=work))
        assert (work / "shot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        results.append((_mask(run.stdout.replace(str(work), "DIR")), run.stderr, run.returncode))
    assert results[1] == results[0]


def test_pyvirsh_through_pyvirtd_prints_what_virsh_prints(pyvirtd: PrivateDaemon, tmp_path: Path) -> None:
    """pyvirt's own remote driver carries the new calls (the screenshot as a stream) as virsh's library does."""
    results = []
    for name, tool, uri in (
        ("virsh", ["virsh"], "test:///default"),
        ("pyvirsh", [sys.executable, "-m", "pyvirt.cli.main"], pyvirtd.uri()),
    ):
        work = tmp_path / name
        work.mkdir()
        line = "; ".join(SCRIPT.format(dir=work).strip().splitlines())
        env = dict(os.environ, LC_ALL="C")
        run = subprocess.run([*tool, "-c", uri, line], capture_output=True, text=True, env=env, timeout=120,
                             check=False)  # fmt: skip
        assert (work / "shot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        results.append((_mask(run.stdout.replace(str(work), "DIR")), run.stderr, run.returncode))
    assert results[1] == results[0]


def test_read_only_socket_refuses_the_writes(pyvirtd: PrivateDaemon, tmp_path: Path) -> None:
    """virsh without -r on the read-only socket: the daemon itself refuses, with libvirt's words."""
    run = _virsh(pyvirtd.uri(read_only=True), textwrap.dedent(f"""\
        schedinfo test --set weight=3
        screenshot test {tmp_path}/ro.png
        checkpoint-create-as test c9
        checkpoint-list test
        schedinfo test
        """))  # fmt: skip
    assert "read only access prevents virDomainSetSchedulerParameters" in run.stderr  # the .x says read: not ours
    assert "read only access prevents virDomainScreenshot" in run.stderr
    assert "read only access prevents virDomainCheckpointCreateXML" in run.stderr
    assert "weight         : 50" in run.stdout  # reading is allowed
    assert not (tmp_path / "ro.png").exists()


LIBVIRT_PYTHON = """\
import sys, libvirt
conn = libvirt.open(sys.argv[1])
dom = conn.lookupByName("test")
print(dom.schedulerType(), dom.schedulerParameters())
dom.setSchedulerParameters({"weight": 70})
stream = conn.newStream()
mime = dom.screenshot(stream, 0, 0)
chunks = []
stream.recvAll(lambda st, data, out: out.append(data) or len(data), chunks)
stream.finish()
sys.stdout.write(mime + "\\n")
sys.stdout.flush()
sys.stdout.buffer.write(b"".join(chunks))
"""


@pytest.mark.skipif(not os.path.exists("/usr/lib/python3/dist-packages/libvirt.py"), reason="needs python3-libvirt")
def test_libvirt_python_reads_the_whole_screenshot_stream(pyvirtd: PrivateDaemon, tmp_path: Path) -> None:
    script = tmp_path / "shot.py"
    script.write_text(LIBVIRT_PYTHON)
    run = subprocess.run(["/usr/bin/python3", str(script), pyvirtd.uri()], capture_output=True, timeout=120,
                         check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    head, _, image = run.stdout.partition(b"\nimage/png\n")
    assert head == b"('fair', 1) {'weight': 50}"
    with pyvirt.open("test:///default") as conn:
        assert image == conn.lookup_domain_by_name("test").screenshot()[1]  # every byte, in order


def _client(path: str) -> RemoteClient:
    client = RemoteClient(connect_unix(path))
    _call(client, "CONNECT_OPEN", ("test:///default", 0))
    return client


def _call(client: RemoteClient, name: str, args: Any) -> Any:
    proc = PROCS[name]
    return client.call(proc.number, proc.pack_args, args, proc.unpack_ret)


def test_raw_calls_get_libvirtds_checks(pyvirtd: PrivateDaemon) -> None:
    client = _client(pyvirtd.socket)
    try:
        assert _call(client, "DOMAIN_GET_SCHEDULER_TYPE", (TEST_DOM,)) == ("fair", 1)
        assert _call(client, "DOMAIN_GET_SCHEDULER_PARAMETERS", (TEST_DOM, 16)) == ([("weight", (2, 50))],)
        for nparams, code, message in (
            (-1, ErrorCode.INTERNAL_ERROR, "internal error: nparams must be non-negative"),
            (17, ErrorCode.INTERNAL_ERROR, "internal error: nparams too large"),
            (0, ErrorCode.INVALID_ARG, "params in virDomainGetSchedulerParameters must not be NULL"),
        ):
            with pytest.raises(Error) as info:
                _call(client, "DOMAIN_GET_SCHEDULER_PARAMETERS", (TEST_DOM, nparams))
            assert (info.value.code, info.value.message) == (code, message)
        with pytest.raises(Error, match=r"unsupported flags \(0x4\) in function testDomainGetSchedulerParametersFlags"):
            _call(client, "DOMAIN_GET_SCHEDULER_PARAMETERS_FLAGS", (TEST_DOM, 16, 0))
        for params, words in (
            ([("weight", (3, 1))], "invalid type 'llong' for parameter 'weight', expected 'uint'"),
            ([("cpu_shares", (2, 1))], "parameter 'cpu_shares' not supported"),
            ([("w" * 80, (2, 1))], f"parameter {'w' * 80} too big for destination"),
        ):
            with pytest.raises(Error) as info:
                _call(client, "DOMAIN_SET_SCHEDULER_PARAMETERS_FLAGS", (TEST_DOM, params, 0))
            assert words in info.value.message
        _call(client, "DOMAIN_SET_SCHEDULER_PARAMETERS", (TEST_DOM, [("weight", (2, 7))]))
        before = _call(client, "DOMAIN_LIST_ALL_CHECKPOINTS", (TEST_DOM, 1, 0))[0]
        chk = _call(
            client,
            "DOMAIN_CHECKPOINT_CREATE_XML",
            (TEST_DOM, "<domaincheckpoint><name>r1</name></domaincheckpoint>", 0),
        )
        assert chk == (("r1", TEST_DOM),)
        assert _call(client, "DOMAIN_LIST_ALL_CHECKPOINTS", (TEST_DOM, 1, 0)) == ([*before, chk[0]], len(before) + 1)
        assert _call(client, "DOMAIN_LIST_ALL_CHECKPOINTS", (TEST_DOM, 0, 0)) == ([], len(before) + 1)  # the count
        assert _call(client, "DOMAIN_CHECKPOINT_LIST_ALL_CHILDREN", (chk[0], 1, 0)) == ([], 0)
        _call(client, "DOMAIN_CHECKPOINT_DELETE", (chk[0], 0))
        with pytest.raises(Error) as info:
            _call(client, "DOMAIN_CHECKPOINT_LOOKUP_BY_NAME", (TEST_DOM, "r1", 0))
        assert info.value.code == ErrorCode.NO_DOMAIN_CHECKPOINT
    finally:
        client.close()
    ro = _client(pyvirtd.ro_socket)
    try:
        with pytest.raises(Error) as info:
            _call(ro, "DOMAIN_SET_SCHEDULER_PARAMETERS_FLAGS", (TEST_DOM, [("weight", (2, 7))], 0))
        assert (
            info.value.message == "operation forbidden: read only access prevents virDomainSetSchedulerParametersFlags"
        )
        with pytest.raises(Error) as info:
            _call(ro, "DOMAIN_CHECKPOINT_GET_XML_DESC", (("r1", TEST_DOM), 1))
        assert info.value.message == "operation forbidden: virDomainCheckpointGetXMLDesc with secure flag"
    finally:
        ro.close()


def test_test_default_starts_over_once_its_last_client_left(pyvirtd: PrivateDaemon) -> None:
    """As libvirt's test driver does: the checkpoint (and snapshot) of an earlier session are gone."""
    first = _virsh(pyvirtd.uri(), "checkpoint-create-as test left-behind\ncheckpoint-list test --name")
    assert "left-behind" in first.stdout
    second = _virsh(pyvirtd.uri(), "checkpoint-list test --name\nsnapshot-create-as test s1")
    expected = _virsh("test:///default", "checkpoint-list test --name\nsnapshot-create-as test s1")
    assert (
        (second.stdout, second.stderr) == (expected.stdout, expected.stderr) == ("\nDomain snapshot s1 created\n", "")
    )
