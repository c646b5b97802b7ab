"""Ansible with the community.libvirt collection, installed once from PyPI into a cache virtualenv.

The ``ansible`` package on PyPI bundles community.libvirt (and every other
community collection), so one ``pip install`` gives ansible-core and the
modules without reaching Ansible Galaxy, which this machine cannot reach.
The modules import libvirt-python; the virtualenv is made from Debian's own
``/usr/bin/python3`` with ``--system-site-packages`` so that Debian's
python3-libvirt (libvirt 9.0's C library, the client real orchestrators
use) is the one they get, and lxml (which the modules also import, and
Debian's python3 lacks here) comes from PyPI. Nothing is kept in the tree:
the virtualenv lives in ``$PYVIRT_CACHE/ansible`` (default
``/var/cache/pyvirt/ansible``), stamped with the pinned requirements, so
CI installs it once per machine. Run by ``./bootstrap`` and, when the
virtualenv is missing, by the test itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["REQUIREMENTS", "ansible_python", "ensure_ansible"]

# ansible 12.3.0 = ansible-core 2.19 (the newest that runs on Debian 12's Python 3.11) with community.libvirt 2.0.0
REQUIREMENTS = ("ansible==12.3.0", "lxml==6.2.0")
DEBIAN_PYTHON = "/usr/bin/python3"


def cache_dir() -> Path:
    return Path(os.environ.get("PYVIRT_CACHE", "/var/cache/pyvirt")) / "ansible"


def ansible_python() -> Path:
    """The virtualenv's interpreter: it runs ansible-playbook and, on the controller, the modules."""
    return cache_dir() / "bin" / "python"


def _stamp() -> Path:
    return cache_dir() / ".pyvirt-requirements"


def _ready() -> bool:
    stamp = _stamp()
    return ansible_python().exists() and stamp.exists() and stamp.read_text() == "\n".join(REQUIREMENTS)


def ensure_ansible() -> str | None:
    """Make the virtualenv if it is missing or pinned differently; return why it cannot be had, or None."""
    if _ready():
        return None
    if not os.path.exists(DEBIAN_PYTHON):
        return f"{DEBIAN_PYTHON} (Debian's python3) is missing"
    probe = subprocess.run([DEBIAN_PYTHON, "-c", "import libvirt, venv"], check=False, capture_output=True,
                           timeout=60)  # fmt: skip
    if probe.returncode != 0:
        return "Debian's python3 cannot import libvirt and venv (packages python3-libvirt, python3-venv)"
    target = cache_dir()
    shutil.rmtree(target, ignore_errors=True)  # a half-made or differently pinned one: start again
    target.parent.mkdir(parents=True, exist_ok=True)
    steps = (
        [DEBIAN_PYTHON, "-m", "venv", "--system-site-packages", str(target)],
        [str(ansible_python()), "-m", "pip", "install", "-q", "--disable-pip-version-check", *REQUIREMENTS],
    )
    for argv in steps:
        try:
            done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired:
            return f"{' '.join(argv[:4])} took more than 900 s"
        if done.returncode != 0:
            shutil.rmtree(target, ignore_errors=True)
            return f"{' '.join(argv[:4])} failed: {done.stderr.strip()[-600:]}"
    _stamp().write_text("\n".join(REQUIREMENTS))
    return None


if __name__ == "__main__":
    why = ensure_ansible()
    if why is not None:
        print(f"ansible_venv: {why}", file=sys.stderr)
        sys.exit(1)
    print(cache_dir())
