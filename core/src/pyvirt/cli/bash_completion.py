"""``pyvirsh --print-completion bash``: the completion script shipped with the package.

The script is package data (``pyvirt/cli/data/pyvirsh.bash``) and is also
installed by the wheel as ``share/bash-completion/completions/pyvirsh``,
where bash-completion finds it for a system or ``/usr/local`` install; for
a virtualenv or a user install, ``source <(pyvirsh --print-completion
bash)`` in ``~/.bashrc`` does the same. Either way completion asks pyvirsh
itself (``pyvirsh complete -- WORDS...``), so it knows every command and
option of the installed version.
"""

from __future__ import annotations

from importlib import resources

from pyvirt.cli.framework import Session

__all__ = ["SHELLS", "completion_script", "print_completion"]

SHELLS = {"bash": "pyvirsh.bash"}


def completion_script(shell: str) -> str:
    return resources.files("pyvirt.cli").joinpath("data", SHELLS[shell]).read_text(encoding="utf-8")


def print_completion(session: Session, shell: str) -> int:
    if shell not in SHELLS:
        session.error(f"no completion script for shell '{shell}' (known: {', '.join(sorted(SHELLS))})")
        return 1
    session.out_raw(completion_script(shell))
    return 0
