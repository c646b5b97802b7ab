"""The dom0 half of bench_xen_convert.py: libvirt 9.0's libxl driver and pyvirt's Xen driver convert the same files.

Run by bench_xen_convert.py inside the nested Xen dom0 (nested_xen.py), with
the corpus copied into ``/xen-results/corpus`` and the job list in
``/xen-results/jobs.json``. It starts Debian's libvirtd with only the libxl
driver (``LIBVIRT_DRIVER_DIR`` naming a directory that holds just that
module, so the QEMU, LXC and network drivers do not start in dom0), then
measures, the two tools in turns round after round:

- one process each, the whole corpus: libvirt-python (``domainXMLFromNative``
  and ``domainXMLToNative`` through libvirtd) against ``pyvirt.open`` in one
  Python; the conversions themselves, without the start of a process;
- one command per file, as a user or a packaging script runs them: Debian's
  ``virsh -c xen:///system`` (through libvirtd) against ``pyvirsh -c
  'xen:///system?mode=direct'`` (pyvirt's Xen driver in the command's own
  process: pyvirt has no daemon-side Xen state to go to).

Each measurement is written to ``/xen-results/convert.json`` as soon as it is
taken, so a run cut short by its deadline still reports what it measured.
When libvirtd's Xen driver does not start, the file says why (its log).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path("/xen-results")
LIBXL_MODULE = "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_libxl.so"
VIRSH_URI = "xen:///system"
PYVIRT_URI = "xen:///system?mode=direct"
SYSTEM_PYTHON = "/usr/bin/python3"  # where Debian's python3-libvirt lives (the virtualenv does not see it)

# one process, the whole job list: argv = URI, jobs.json, output file. The two differ only in the library
# called, so the loop is the same text with the calls filled in.
ONE_PROCESS = r"""
import json, sys, time
started = time.perf_counter()
%(open)s
opened = time.perf_counter() - started
result = {"open": opened, "kinds": {}, "outputs": {}}
for job in json.load(open(sys.argv[2])):
    kind, to_native, fmt, paths = job["kind"], job["to_native"], job["format"], job["paths"]
    ok = 0
    t = time.perf_counter()
    for path in paths:
        with open(path) as f:
            text = f.read()
        try:
            out = %(to_native)s if to_native else %(from_native)s
        except %(error)s:
            out = None
        ok += out is not None
        result["outputs"][path] = out
    result["kinds"][kind] = {"seconds": time.perf_counter() - t, "ok": ok, "files": len(paths)}
result["total"] = time.perf_counter() - started
json.dump(result, open(sys.argv[3], "w"))
"""
LIBVIRT_PROCESS = ONE_PROCESS % {
    "open": "import libvirt\nconn = libvirt.open(sys.argv[1])",
    "to_native": "conn.domainXMLToNative(fmt, text, 0)",
    "from_native": "conn.domainXMLFromNative(fmt, text, 0)",
    "error": "libvirt.libvirtError",
}
PYVIRT_PROCESS = ONE_PROCESS % {
    "open": "import pyvirt\nconn = pyvirt.open(sys.argv[1])",
    "to_native": "conn.domain_xml_to_native(fmt, text)",
    "from_native": "conn.domain_xml_from_native(fmt, text)",
    "error": "pyvirt.Error",
}


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def start_libvirtd(deadline: float) -> tuple[subprocess.Popen[bytes] | None, str]:
    """libvirtd with the libxl driver alone, in the foreground (this script owns its PID); (process, "") once
    ``virsh -c xen:///system`` answers, else (None, why)."""
    drivers = Path("/run/bench-libvirt-drivers")
    drivers.mkdir(exist_ok=True)
    module = drivers / Path(LIBXL_MODULE).name
    if not Path(LIBXL_MODULE).exists():
        return None, f"{LIBXL_MODULE} is absent in dom0 (fetch-xen-dom0 unpacks libvirt-daemon-driver-xen)"
    if not module.exists():
        module.symlink_to(LIBXL_MODULE)
    conf = Path("/run/bench-libvirtd.conf")
    conf.write_text(f'log_outputs="3:file:{RESULTS}/libvirtd.log"\n')
    env = dict(os.environ, LIBVIRT_DRIVER_DIR=str(drivers))
    with open(RESULTS / "libvirtd.stderr", "wb") as stderr:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(["/usr/sbin/libvirtd", "-f", str(conf)], env=env, stdout=subprocess.DEVNULL,
                                stderr=stderr)  # fmt: skip
    probe = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            why = log_tail(RESULTS / "libvirtd.log") or log_tail(RESULTS / "libvirtd.stderr")
            return None, f"libvirtd exited with status {proc.returncode}:\n{why}"
        answer = subprocess.run(["virsh", "-c", VIRSH_URI, "uri"], capture_output=True, text=True, check=False)
        if answer.returncode == 0:
            return proc, ""
        probe = answer.stderr.strip()
        time.sleep(2)
    stop(proc)
    return None, f"libvirtd did not answer in time: {probe}"


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def one_process(tool: str, round_no: int) -> dict[str, Any]:
    """One process converting the whole job list (see the module docstring); its own figures and its wall time."""
    script, python, uri = {
        "libvirt": (LIBVIRT_PROCESS, SYSTEM_PYTHON, VIRSH_URI),
        "pyvirt": (PYVIRT_PROCESS, sys.executable, PYVIRT_URI),
    }[tool]
    out = Path(f"/run/bench-{tool}-{round_no}.json")
    started = time.perf_counter()
    done = subprocess.run([python, "-c", script, uri, str(RESULTS / "jobs.json"), str(out)], capture_output=True,
                          text=True, check=False)  # fmt: skip
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{tool}'s one-process run failed ({done.returncode}):\n{done.stderr}")
    result: dict[str, Any] = json.loads(out.read_text())
    result["wall"] = wall
    return result


def command(tool: str, job: dict[str, Any], path: str) -> tuple[float, int, str]:
    """One ``domxml-*-native`` command of ``tool`` on ``path``: (seconds, exit status, stdout)."""
    verb = "domxml-to-native" if job["to_native"] else "domxml-from-native"
    argv = ["virsh", "-c", VIRSH_URI] if tool == "virsh" else [PYVIRSH, "-c", PYVIRT_URI]
    started = time.perf_counter()
    done = subprocess.run([*argv, verb, job["format"], path], capture_output=True, text=True, check=False)
    return time.perf_counter() - started, done.returncode, done.stdout


PYVIRSH = str(Path(sys.executable).parent / "pyvirsh")


def main() -> int:
    settings = json.loads((RESULTS / "settings.json").read_text())
    jobs = json.loads((RESULTS / "jobs.json").read_text())
    report: dict[str, Any] = {"settings": settings, "one_process": [], "commands": {}}
    report_file = RESULTS / "convert.json"

    def save() -> None:
        tmp = report_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(report))
        tmp.replace(report_file)

    started = time.monotonic()
    proc, why = start_libvirtd(started + 300)
    report["libvirtd_start"] = time.monotonic() - started
    if proc is None:
        report["libvirt_error"] = why
        save()
        return 0
    try:
        version = subprocess.run(["virsh", "-c", VIRSH_URI, "version"], capture_output=True, text=True, check=False)
        report["virsh_version"] = version.stdout.strip()
        # not timed: each tool once, so that the first round does not pay for reading the tools' files over 9p
        # (cold, pyvirt's imports take over a minute in dom0; dom0 caches them after)
        first = jobs[0]
        started = time.monotonic()
        for tool in ("virsh", "pyvirsh"):
            command(tool, first, first["paths"][0])
        report["warm_up"] = time.monotonic() - started
        save()
        for round_no in range(settings["process_rounds"]):
            order = ("libvirt", "pyvirt") if round_no % 2 == 0 else ("pyvirt", "libvirt")
            entry = {tool: one_process(tool, round_no) for tool in order}
            if round_no:  # outputs once: the first round's are kept for the comparison of results
                for tool in order:
                    del entry[tool]["outputs"]
            report["one_process"].append(entry)
            save()
        command_jobs = [job for job in jobs if job["kind"] in settings["command_kinds"]]
        for round_no in range(settings["command_rounds"]):
            for job in command_jobs:
                for i, path in enumerate(job["paths"][: settings["command_files"]]):
                    tools = ("virsh", "pyvirsh") if (i + round_no) % 2 == 0 else ("pyvirsh", "virsh")
                    for tool in tools:
                        seconds, rc, stdout = command(tool, job, path)
                        per_file = report["commands"].setdefault(job["kind"], {}).setdefault(path, {})
                        record = per_file.setdefault(tool, {"seconds": [], "rc": rc, "stdout": stdout})
                        record["seconds"].append(seconds)
                    save()
    finally:
        stop(proc)
    report["libvirtd_errors"] = log_tail(RESULTS / "libvirtd.log", 5)
    save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
