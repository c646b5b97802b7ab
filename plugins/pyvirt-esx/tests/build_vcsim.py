"""Build VMware's vSphere simulator (govmomi's ``vcsim``) from Debian's packages, once, into a cache.

Debian ships govmomi's library as golang-github-vmware-govmomi-dev but not
its ``vcsim`` main package; that one file comes from the package's source
(``apt-get source --download-only``), and Go builds it offline against the
installed library (``GO111MODULE=off GOPROXY=off``: module mode would reach
for the network). Nothing built is kept in the tree: the binary lives in
``$PYVIRT_CACHE/vcsim`` (default ``/var/cache/pyvirt/vcsim``). Run by
``./bootstrap`` and, when the binary is missing, by the tests themselves.

A second binary, ``vcsim-libvirt``, is the same simulator with one change so
that libvirt 9.0's own ESX driver (Debian's virsh) can talk to it, for the
comparison tests and the benchmark: libvirt reads every item of a SOAP array
as an ``xsd:anyType``, which must carry ``xsi:type`` (real ESX writes it on
every item; vcsim 0.24 does not, and libvirt fails with "AnyType is missing
'type' property"). The build overlays govmomi's ``vim25/types`` with a copy
whose ``ArrayOf*`` item fields are marked ``typeattr``, and gives a datastore's
host mount its path (``mountInfo.path``, which every real host fills and
libvirt reads without checking: without it libvirt's pool and dumpxml calls
crash); nothing else differs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

GOVMOMI_LIBRARY = Path("/usr/share/gocode/src/github.com/vmware/govmomi/simulator")
SOURCE_PACKAGE = "golang-github-vmware-govmomi"


def cache_dir() -> Path:
    return Path(os.environ.get("PYVIRT_CACHE", "/var/cache/pyvirt")) / "vcsim"


def vcsim_path(variant: str = "vcsim") -> Path:
    return cache_dir() / variant


def _typed_array_items(types_go: str) -> str:
    """govmomi's types.go with ``typeattr`` on every ``ArrayOf*`` item field (each item then says its xsi:type)."""
    out, in_array = [], False
    for line in types_go.split("\n"):
        if re.match(r"^type ArrayOf\w+ struct \{", line):
            in_array = True
        elif in_array and line.startswith("}"):
            in_array = False
        elif in_array:
            out.append(re.sub(r'^(\s+\w+\s+\[\]\S+\s+`xml:")([^"]*)"`$', r'\1\2,typeattr"`', line))
            continue
        out.append(line)
    return "\n".join(out)


def _libvirt_overlay(work: Path) -> Path:
    """A GOPATH entry holding govmomi as installed (symlinks) but for the patched vim25/types/types.go."""
    overlay = work / "gopath-libvirt"
    target = overlay / "src" / "github.com" / "vmware" / "govmomi"
    if not target.is_dir():
        library = GOVMOMI_LIBRARY.parent
        shutil.rmtree(overlay, ignore_errors=True)
        target.parent.mkdir(parents=True)
        shutil.copytree(library, target, symlinks=True, copy_function=os.symlink)
        types_go = target / "vim25" / "types" / "types.go"
        patched = _typed_array_items((library / "vim25" / "types" / "types.go").read_text())
        types_go.unlink()
        types_go.write_text(patched)
        system_go = target / "simulator" / "host_datastore_system.go"
        text = (library / "simulator" / "host_datastore_system.go").read_text()
        mount = "MountInfo: types.HostMountInfo{\n"
        if text.count(mount) != 1:
            raise RuntimeError("govmomi's host_datastore_system.go changed: cannot give the host mount its path")
        system_go.unlink()
        system_go.write_text(text.replace(mount, mount + "\t\t\tPath:       c.Path,\n"))
    return overlay


def build(variant: str = "vcsim") -> Path:
    """The vcsim binary (``vcsim`` or ``vcsim-libvirt``), built if it is not there yet.

    RuntimeError says what is missing when it cannot be built.
    """
    binary = vcsim_path(variant)
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    go = shutil.which("go")
    if go is None or not GOVMOMI_LIBRARY.is_dir():
        raise RuntimeError("vcsim needs the Debian packages golang-go and golang-github-vmware-govmomi-dev")
    work = cache_dir()
    src = work / "src"
    src.mkdir(parents=True, exist_ok=True)
    tarballs = sorted(src.glob(f"{SOURCE_PACKAGE}_*.orig.tar.*"))
    if not tarballs:
        result = subprocess.run(["apt-get", "source", "--download-only", SOURCE_PACKAGE], cwd=src,
                                capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
        tarballs = sorted(src.glob(f"{SOURCE_PACKAGE}_*.orig.tar.*"))
        if result.returncode != 0 or not tarballs:
            raise RuntimeError(f"apt-get source {SOURCE_PACKAGE} failed: {result.stderr.strip()[-500:]}")
    gopath = work / "gopath"
    main_dir = gopath / "src" / "vcsim"
    main_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarballs[-1]) as archive:
        member = next((m for m in archive.getmembers() if m.name.endswith("/vcsim/main.go")), None)
        if member is None:
            raise RuntimeError(f"{tarballs[-1].name} has no vcsim/main.go")
        extracted = archive.extractfile(member)
        assert extracted is not None
        (main_dir / "main.go").write_bytes(extracted.read())
    gopaths = f"{gopath}:/usr/share/gocode"
    if variant == "vcsim-libvirt":
        gopaths = f"{_libvirt_overlay(work)}:{gopaths}"  # the first entry holding a package wins
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work), "GOPATH": gopaths,
           "GO111MODULE": "off", "GOPROXY": "off", "CGO_ENABLED": "0", "GOCACHE": str(work / "gocache")}  # fmt: skip
    partial = work / f"{variant}.partial"
    result = subprocess.run([go, "build", "-o", str(partial), "."], cwd=main_dir, env=env, capture_output=True,
                            text=True, timeout=900, check=False)  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"go build of vcsim failed: {result.stderr.strip()[-1000:]}")
    partial.rename(binary)
    return binary


if __name__ == "__main__":
    try:
        print(build())
        print(build("vcsim-libvirt"))
    except RuntimeError as err:
        print(f"build_vcsim: {err}", file=sys.stderr)
        sys.exit(1)
