"""Build VMware's vSphere simulator (govmomi's ``vcsim``) from Debian's packages, once, into a cache.

Debian ships govmomi's library as golang-github-vmware-govmomi-dev but not
its ``vcsim`` main package; that one file comes from the package's source
(``apt-get source --download-only``), and Go builds it offline against the
installed library (``GO111MODULE=off GOPROXY=off``: module mode would reach
for the network). Nothing built is kept in the tree: the binary lives in
``$PYVIRT_CACHE/vcsim`` (default ``/var/cache/pyvirt/vcsim``). Run by
``./bootstrap`` and, when the binary is missing, by the tests themselves.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

GOVMOMI_LIBRARY = Path("/usr/share/gocode/src/github.com/vmware/govmomi/simulator")
SOURCE_PACKAGE = "golang-github-vmware-govmomi"


def cache_dir() -> Path:
    return Path(os.environ.get("PYVIRT_CACHE", "/var/cache/pyvirt")) / "vcsim"


def vcsim_path() -> Path:
    return cache_dir() / "vcsim"


def build() -> Path:
    """The vcsim binary, built if it is not there yet; RuntimeError says what is missing when it cannot be built."""
    binary = vcsim_path()
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
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work), "GOPATH": f"{gopath}:/usr/share/gocode",
           "GO111MODULE": "off", "GOPROXY": "off", "CGO_ENABLED": "0", "GOCACHE": str(work / "gocache")}  # fmt: skip
    partial = work / "vcsim.partial"
    result = subprocess.run([go, "build", "-o", str(partial), "."], cwd=main_dir, env=env, capture_output=True,
                            text=True, timeout=900, check=False)  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"go build of vcsim failed: {result.stderr.strip()[-1000:]}")
    partial.rename(binary)
    return binary


if __name__ == "__main__":
    try:
        print(build())
    except RuntimeError as err:
        print(f"build_vcsim: {err}", file=sys.stderr)
        sys.exit(1)
