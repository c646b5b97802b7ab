"""Ask Debian's libvirt 9.0 (libvirt-python, ``test:///default``, in-process) whether it accepts documents.

libvirt itself aborts on some hostile documents (``<vcpu>-1</vcpu>`` makes
its test driver allocate 32 GiB and GLib abort the process), so the
questions go to a child process; a child that dies is restarted after the
document that killed it, which is reported as ``CRASH``.

Run as a script, this module is that child: it reads a JSON list of
(kind, xml) pairs from the file named on its command line, starting at the
index given, and prints one JSON line per answer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

__all__ = ["CRASH", "libvirt_available", "libvirt_verdicts"]

DIST_PACKAGES = "/usr/lib/python3/dist-packages"
CRASH = "CRASH"


def libvirt_available() -> bool:
    """True when Debian's python3-libvirt can be imported by this interpreter."""
    probe = f"import sys; sys.path.append({DIST_PACKAGES!r}); import libvirt"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, check=False).returncode == 0


def libvirt_verdicts(docs: list[tuple[str, str]]) -> list[tuple[bool | str, str]]:
    """(accepted, error message) for each (kind, xml); accepted is ``CRASH`` when libvirt died on it."""
    results: list[tuple[bool | str, str]] = []
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(docs, f)
        f.flush()
        while len(results) < len(docs):
            proc = subprocess.run(
                [sys.executable, __file__, f.name, str(len(results))],
                capture_output=True,
                text=True,
                check=False,
                timeout=600,
                env={**os.environ, "LIBVIRT_DEBUG": "", "LC_ALL": "C"},
            )
            for line in proc.stdout.splitlines():
                ok, msg = json.loads(line)
                results.append((ok, msg))
            if proc.returncode != 0 and len(results) < len(docs):
                results.append((CRASH, proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""))
    return results


def _child(path: str, start: int) -> None:
    sys.path.append(DIST_PACKAGES)
    import libvirt  # type: ignore[import-not-found]

    libvirt.registerErrorHandler(lambda *_: None, None)
    conn = libvirt.open("test:///default")
    with open(path) as f:
        docs = json.load(f)
    define = {
        "domain": conn.defineXML,
        "network": conn.networkDefineXML,
        "pool": lambda x: conn.storagePoolDefineXML(x, 0),
        "secret": lambda x: conn.secretDefineXML(x, 0),
        "interface": lambda x: conn.interfaceDefineXML(x, 0),
    }
    for kind, xml in docs[start:]:
        try:
            obj = define[kind](xml)
            obj.undefine()
            answer = [True, ""]
        except libvirt.libvirtError as exc:
            answer = [False, exc.get_error_message() or ""]
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    _child(sys.argv[1], int(sys.argv[2]))
