"""``pyvirsh qemu-monitor-command`` / ``qemu-agent-command``: libvirt-qemu's pass-through, as virsh 9.0's
cmdQemuMonitorCommand / cmdQemuAgentCommand.

The words after the options are the command. For QMP, virsh sends them as
they are when they form a JSON object; otherwise the first word is the
command's name and the rest its arguments (one JSON object, or ``"key":value``
members joined into one), wrapped as ``{"execute":...,"arguments":...}``.
``--hmp`` sends the words as a human monitor line. QEMU's reply is printed as
it came (compact JSON), or re-printed by ``--pretty`` the way libvirt's JSON
writer (yajl) indents it, or only its ``return`` member with
``--return-value``. The agent command is the words joined, sent as written.
"""

from __future__ import annotations

import json

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["yajl_format"]

_HMP = 1  # VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP
_AGENT_BLOCK, _AGENT_DEFAULT, _AGENT_NOWAIT = -2, -1, 0  # VIR_DOMAIN_QEMU_AGENT_COMMAND_*


def yajl_format(value: Any, pretty: bool, level: int = 0) -> str:
    """virJSONValueToString: compact, or yajl's beautified form (two blanks per level, ``"key": value``, and an
    empty container written open, blank line, close)."""
    if not pretty:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(value, dict):
        if not value:
            return "{\n\n" + pad + "}"
        items = [
            f"{inner}{json.dumps(k, ensure_ascii=False)}: {yajl_format(v, True, level + 1)}" for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list):
        if not value:
            return "[\n\n" + pad + "]"
        return "[\n" + ",\n".join(inner + yajl_format(v, True, level + 1) for v in value) + "\n" + pad + "]"
    return json.dumps(value, ensure_ascii=False)


def _json(text: str) -> Any:
    """virJSONValueFromString, None where it fails (virsh then falls back, as here)."""
    try:
        return json.loads(text)
    except ValueError:
        return None


def _qmp_wrap(words: list[str]) -> str:
    """cmdQemuMonitorCommandQMPWrap: pass a JSON object through, else wrap name and arguments into one."""
    full = " ".join(words)
    if isinstance(_json(full), dict):
        return full
    name, rest = words[0], words[1:]
    command: dict[str, Any] = {"execute": name}
    if rest:
        args_text = " ".join(rest)
        arguments = _json(args_text)
        if not isinstance(arguments, dict):
            arguments = _json("{" + ",".join(rest) + "}")
            if arguments is None:
                raise CommandError(f"failed to wrap arguments '{args_text}' into a QMP command wrapper")
        command["arguments"] = arguments
    return yajl_format(command, False)


def _pass_fds(raw: str | None) -> list[int]:
    """virshFetchPassFdsList: comma-separated C ints."""
    if not raw:
        return []
    fds = []
    for item in raw.split(","):
        digits = item.lstrip(" \t\n\v\f\r")
        body = digits[1:] if digits[:1] in ("+", "-") else digits
        if not body.isdigit() or not body.isascii() or not -(2**31) <= int(digits) < 2**31:
            raise CommandError(f"Unable to parse FD number '{item}'")
        fds.append(int(digits))
    return fds


@command(
    "qemu-monitor-command", "QEMU Monitor Command",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("hmp", "command is in human monitor protocol", flag=True),
    Opt("pretty", "pretty-print any qemu monitor protocol output", flag=True),
    Opt("return-value", "extract the value of the 'return' key from the returned string", flag=True),
    Opt("pass-fds", "pass file descriptors N,M,... along with the command"),
    Opt("cmd", "command", required=True, positional=True, kind="list"),
    description="QEMU Monitor Command",
)  # fmt: skip
def cmd_qemu_monitor_command(s: Session, o: dict[str, Any]) -> None:
    for other in ("pretty", "return-value"):
        if o.get("hmp") and o.get(other):
            raise CommandError(f"Options --hmp and --{other} are mutually exclusive")
    dom = get_domain(s, o["domain"])
    words = list(o["cmd"])
    hmp = bool(o.get("hmp"))
    text = " ".join(words) if hmp else _qmp_wrap(words)
    if _pass_fds(o.get("pass-fds")):
        from pyvirt.cli.nosupport import not_supported

        # libvirt's QEMU driver takes one fd with the command; no driver here has that entry point yet
        raise CommandError(not_supported("virDomainQemuMonitorCommandWithFiles").message)
    result = dom.qemu_monitor_command(text, _HMP if hmp else 0)
    pretty, return_value = bool(o.get("pretty")), bool(o.get("return-value"))
    parsed = _json(result) if (pretty or return_value) else None
    if return_value and parsed is None:
        raise CommandError("failed to parse JSON returned by qemu")
    if parsed is None:
        s.out(result)
        return
    if return_value:
        if not isinstance(parsed, dict) or "return" not in parsed:
            raise CommandError("'return' member missing")
        parsed = parsed["return"]
    s.out_raw(yajl_format(parsed, pretty).strip())


@command(
    "qemu-agent-command", "QEMU Guest Agent Command",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("timeout", "timeout seconds. must be positive.", kind="intstring"),
    Opt("async", "execute command without waiting for timeout", flag=True),
    Opt("block", "execute command without timeout", flag=True),
    Opt("pretty", "pretty-print the output", flag=True),
    Opt("cmd", "command", required=True, positional=True, kind="list"),
    description="Run an arbitrary qemu guest agent command; use at your own risk",
)  # fmt: skip
def cmd_qemu_agent_command(s: Session, o: dict[str, Any]) -> None:
    dom = get_domain(s, o["domain"])
    text = " ".join(o["cmd"])
    timeout, chosen = _AGENT_DEFAULT, 0
    raw = o.get("timeout")
    if raw is not None:  # vshCommandOptInt: base 10, the whole word, an int
        import re

        if not re.fullmatch(r"[ \t\n\v\f\r]*[+-]?[0-9]+", raw) or not -(2**31) <= int(raw) < 2**31:
            raise CommandError(f"Numeric value '{raw}' for <timeout> option is malformed or out of range")
        timeout, chosen = int(raw), 1
        if timeout < 1:
            raise CommandError("timeout must be positive")
    if o.get("async"):
        timeout, chosen = _AGENT_NOWAIT, chosen + 1
    if o.get("block"):
        timeout, chosen = _AGENT_BLOCK, chosen + 1
    if chosen > 1:
        raise CommandError("timeout, async and block options are exclusive")
    result = dom.qemu_agent_command(text, timeout, 0)
    if o.get("pretty"):
        parsed = _json(result)
        if parsed is not None:
            result = yajl_format(parsed, True)
    s.out(result)
