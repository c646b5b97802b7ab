"""Completion of commands, options and object names: the interactive shell's TAB and ``pyvirsh complete``.

It follows virsh's vshReadlineParse: the first word completes to command
names; after it, a word starting a value of an option (``--domain <TAB>``
or a word in a positional slot) completes to what that option names
(domains, networks, pools, volumes, snapshots, checkpoints, files, command
names for ``help``); otherwise to the options the command has that are not
given yet. The bash script (``pyvirsh --print-completion bash``) asks
through ``pyvirsh complete -- WORDS...`` exactly as virsh's asks ``virsh complete``.
"""

from __future__ import annotations

import glob
import os
from _collections_abc import Callable

from pyvirt.cli.framework import CommandDef, CommandError, Opt, Session
from pyvirt.cli.parser import END, split_words
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["candidates", "complete_words", "install_readline"]

# virsh's rl_basic_word_break_characters
WORD_BREAKS = " \t\n`@$><=;|&{("


def _domains(s: Session, given: dict[str, str]) -> list[str]:
    return [d.name for d in s.conn.list_all_domains()]


def _networks(s: Session, given: dict[str, str]) -> list[str]:
    return [n.name for n in s.conn.list_all_networks()]


def _pools(s: Session, given: dict[str, str]) -> list[str]:
    return [p.name for p in s.conn.list_all_storage_pools()]


def _volumes(s: Session, given: dict[str, str]) -> list[str]:
    pool = given.get("pool")
    if not pool:
        return []
    return [v.name for v in s.conn.lookup_storage_pool_by_name(pool).list_all_volumes()]


def _snapshots(s: Session, given: dict[str, str]) -> list[str]:
    from pyvirt.cli.lookup import get_domain

    return [snap.name for snap in get_domain(s, given.get("domain", "")).list_snapshots()]


def _checkpoints(s: Session, given: dict[str, str]) -> list[str]:
    from pyvirt.cli.lookup import get_domain

    return [c.name for c in get_domain(s, given.get("domain", "")).list_checkpoints()]


def _commands(s: Session, given: dict[str, str]) -> list[str]:
    from pyvirt.cli.shell_cmds import grouped_commands

    return [c.name for _, _, cmds in grouped_commands(s) for c in cmds]


def _files(s: Session, given: dict[str, str], text: str = "") -> list[str]:
    return [p + "/" if os.path.isdir(p) else p for p in sorted(glob.glob(glob.escape(text) + "*"))]


Completer = Callable[[Session, dict[str, str]], list[str]]

# option name -> what it names (virsh gives each option its completer; ours go by the option's name)
COMPLETERS: dict[str, Completer] = {
    "domain": _domains,
    "network": _networks,
    "pool": _pools,
    "vol": _volumes,
    "snapshotname": _snapshots,
    "snapshot": _snapshots,
    "checkpointname": _checkpoints,
    "checkpoint": _checkpoints,
    "command": _commands,
    "file": _files,
    "xml": _files,
}


def _option_values(s: Session, opt: Opt, given: dict[str, str], text: str) -> list[str]:
    completer = COMPLETERS.get(opt.name)
    if completer is None:
        return []
    if completer is _files:
        return _files(s, given, text)
    try:
        return completer(s, given)
    except (Error, CommandError):
        return []  # no connection, no such domain: nothing to offer, and nothing printed at a prompt


def candidates(s: Session, line: str) -> list[str]:
    """Completions of the last word of ``line`` (the text before the cursor), already filtered by it."""
    words: list[str] = []
    for word in split_words(line, complete=True):
        words = [] if word is END else [*words, word]
    at_word_end = bool(line) and line[-1] not in " \t" and not line.endswith(";")
    text = words.pop() if at_word_end and words else ""
    if not words:
        return [n for n in _commands(s, {}) if n.startswith(text)]
    cmd: CommandDef | None = s.lookup(words[0])
    if cmd is None:
        return []
    by_name = {o.name: o for o in cmd.opts}
    need = [o for o in cmd.opts if o.positional and not o.flag]
    seen: set[str] = set()
    given: dict[str, str] = {}
    pending: Opt | None = None  # a named option still waiting for its value
    for word in words[1:]:
        if pending is not None:
            given[pending.name] = word
            pending = None
        elif word.startswith("--") and word[2:3].isalnum():
            key, eq, value = word[2:].partition("=")
            opt = by_name.get(key)
            if opt is None:
                continue
            seen.add(opt.name)
            if opt in need and opt.kind != "list":
                need.remove(opt)
            if not opt.flag:
                if eq:
                    given[opt.name] = value
                else:
                    pending = opt
        elif need:
            slot = need[0]
            given[slot.name] = word
            seen.add(slot.name)
            if slot.kind != "list":
                need.pop(0)
    if pending is not None:
        found = _option_values(s, pending, given, text)
    elif text and not text.startswith("-") and need:
        found = _option_values(s, need[0], given, text)
    else:
        found = [f"--{o.name}" for o in cmd.opts if o.name not in seen or o.kind == "list"]
    return [m.replace(" ", "\\ ") if " " in m else m for m in found if m.startswith(text)]


def complete_words(s: Session, words: list[str]) -> list[str]:
    """``pyvirsh complete -- W1 W2 ... WN``: candidates for WN, the words joined as virsh joins them."""
    # virsh completes its last argument as the word: a quoted "dominfo te" is one word, not two
    return [m for m in candidates(s, " ".join(words)) if m.startswith(words[-1])]


def install_readline(s: Session) -> Any:
    """Bind TAB to :func:`candidates` in the interactive shell; returns the readline module."""
    import readline

    state: dict[str, list[str]] = {"matches": []}

    def complete(text: str, n: int) -> str | None:
        if n == 0:
            line = readline.get_line_buffer()[: readline.get_endidx()]
            try:
                state["matches"] = candidates(s, line)
            except Exception:  # a completer must never kill the shell mid-line
                state["matches"] = []
        matches = state["matches"]
        if n >= len(matches):
            return None
        if len(matches) == 1 and not matches[0].endswith("/"):
            return matches[0] + " "  # Python's readline appends nothing; virsh's goes on to the next word
        return matches[n]

    readline.set_completer_delims(WORD_BREAKS)
    readline.set_completer(complete)
    if "libedit" in (readline.__doc__ or ""):
        readline.parse_and_bind("bind ^I rl_complete")
    else:
        readline.parse_and_bind("tab: complete")
    return readline
