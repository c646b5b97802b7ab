"""libvirt-qemu's pass-through: a user's own command to QEMU's monitor or to the guest agent.

libvirt 9.0's qemuDomainQemuMonitorCommandWithFiles and qemuDomainQemuAgentCommand.
The monitor command is QMP JSON sent as written (libvirt adds only its
``id``) and QEMU's whole reply comes back as compact JSON, an ``error`` as
well as a ``return``: the reply is the user's to read, not an error of the
API. With the HMP flag the line goes through ``human-monitor-command`` and
its text comes back. The agent command goes to the guest agent and only a
success comes back (``{"return": ...}``); the agent's errors are the API's.

What such a command changes, the driver no longer knows: as libvirt, the
domain is marked tainted, once per run of its QEMU, by a line in its log
("Domain id=N is tainted: custom-monitor", or "custom-ga-command").
"""

from __future__ import annotations

import itertools
import json
import time
from typing import TYPE_CHECKING, Any

from pyvirt.errors import ErrorCode, ErrorDomain, InternalError, InvalidArgumentError, NotSupportedError
from pyvirt.local_driver.domain_jobs import Job
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import DomainRef
from pyvirt_qemu.migration_jobs import running

if TYPE_CHECKING:
    from pyvirt_qemu.driver import QemuConnection
    from pyvirt_qemu.state import DomainObj

__all__ = ["agent_command", "monitor_command"]

MONITOR_COMMAND_HMP = 1  # VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP
AGENT_BLOCK, AGENT_DEFAULT, AGENT_NOWAIT = -2, -1, 0  # VIR_DOMAIN_QEMU_AGENT_COMMAND_*
_BLOCKING_WAIT = 365 * 24 * 3600.0  # "block": no deadline a user would meet (a socket needs a finite one)
_IDS = itertools.count(1)  # libvirt's "libvirt-N" ids of the messages it sends itself
# per domain (UUID): the QEMU run (pid) and the taints its log already shows (virDomainObjTaint's once-only)
_TAINTED: dict[str, tuple[int, set[str]]] = {}


def _compact(value: Any) -> str:
    """virJSONValueToString(value, false): no blanks, non-ASCII as is."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _parse(cmd: str) -> dict[str, Any]:
    """The command as a JSON object (virJSONValueFromString; the parser's words are Python's, not yajl's)."""
    try:
        value = json.loads(cmd)
    except ValueError as exc:
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"cannot parse json {cmd}: {exc}") from None
    if not isinstance(value, dict) or not isinstance(value.get("execute", value.get("exec-oob")), str):
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"'{cmd}' is not a QMP command object ('execute' missing)")
    return value


def taint(conn: QemuConnection, obj: DomainObj, kind: str) -> None:
    """qemuDomainObjTaint: one line in the guest's log per taint and run of its QEMU."""
    pid = obj.process.pid if obj.process is not None else 0
    run = _TAINTED.get(obj.uuid)
    if run is None or run[0] != pid:
        run = _TAINTED[obj.uuid] = (pid, set())
    if kind in run[1]:
        return
    run[1].add(kind)
    now = time.time()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}+0000"
    with open(conn.state.paths.logfile(obj.name), "a", encoding="utf-8") as log:
        log.write(f"{stamp}: Domain id={obj.id} is tainted: {kind}\n")


def monitor_command(conn: QemuConnection, dom: DomainRef, cmd: str, flags: int) -> str:
    """qemuDomainQemuMonitorCommand: a QUERY job (libvirt's), the domain running, tainted, then the command."""
    check_flags(flags, MONITOR_COMMAND_HMP, "qemuDomainQemuMonitorCommandWithFiles")
    obj = conn.state.find(dom)
    with obj.job.holding(Job.QUERY):
        proc = running(obj)
        taint(conn, obj, "custom-monitor")
        if flags & MONITOR_COMMAND_HMP:
            reply = proc.monitor.execute_message(
                {"execute": "human-monitor-command", "arguments": {"command-line": cmd}}
            )
            error = reply.get("error")
            if error is not None:
                if error.get("class") == "CommandNotFound":
                    raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED,
                                            f"Human monitor command is not available to run {cmd}",
                                            domain=ErrorDomain.QEMU)  # fmt: skip
                raise InternalError(ErrorCode.INTERNAL_ERROR,
                                    f"unable to execute QEMU command 'human-monitor-command': {error.get('desc')}",
                                    domain=ErrorDomain.QEMU)  # fmt: skip
            text = reply.get("return")
            return text if isinstance(text, str) else ""
        reply = proc.monitor.execute_message(_parse(cmd))
    msg_id = f"libvirt-{next(_IDS)}"
    # QEMU echoes the id after a return and before an error (its own member order)
    return _compact({**reply, "id": msg_id} if "return" in reply else {"id": msg_id, **reply})


def agent_command(conn: QemuConnection, dom: DomainRef, cmd: str, timeout: int, flags: int) -> str:
    """qemuDomainQemuAgentCommand: the domain running with its agent connected, tainted, then the command."""
    check_flags(flags, 0, "qemuDomainQemuAgentCommand")
    obj = conn.state.find(dom)
    with obj.job.holding(Job.MODIFY):
        running(obj)
        agent = conn._agent(obj)  # qemuDomainAgentAvailable: configured, connected, the guest not paused
        taint(conn, obj, "custom-ga-command")
        if timeout < AGENT_BLOCK:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG,
                                       f"guest agent timeout '{timeout}' is less than the minimum '{AGENT_BLOCK}'")  # fmt: skip
        message = _parse(cmd)
        wait = _BLOCKING_WAIT if timeout in (AGENT_BLOCK, AGENT_DEFAULT) else float(timeout)
        value = agent.execute(message["execute"], message.get("arguments"), timeout=wait or 5.0,
                              reply=timeout != AGENT_NOWAIT)  # fmt: skip
    return _compact({"return": value})
