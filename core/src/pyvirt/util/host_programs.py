"""Every program pyvirt, its plugins, its tests and its demo run on the host, and the Debian package of each.

Why one table: a program that is missing on a fresh machine used to surface
as "No such file or directory" about some unrelated file, and the bootstrap's
package list drifted from what the code runs (``qemu-img`` came from a
package the development machine happened to have). With the table:

- ``Command`` names the package when a program is missing
  (:func:`missing_program_hint`), so the error says what to install;
- ``core/tests/test_host_programs.py`` checks, against dpkg on the machine the
  suite runs on, that each package here really ships the program and that
  ``./bootstrap`` installs it (its package list, their dependencies, or
  Debian's essential/required set);
- the same test scans the sources of core, the plugins, their tests, the
  benchmarks and the demo for programs they start (argv literals of
  ``Command``/``subprocess``/``os.exec*``, ``shutil.which`` arguments,
  ``/usr/bin/...`` paths) and fails on one missing here.

The table lists what core, the tests, the benchmarks and the demo run; each
plugin declares its own programs in its ``system-deps.toml``
(:mod:`pyvirt.util.system_deps`), which ``./bootstrap`` reads and which are
added here for every installed plugin. ``runs_it`` says who starts the
program and why, for the reader deciding whether an entry is still needed.
A plugin's ``install = false`` entries (pyvirt-xen's toolstack, which works
only in a Xen dom0) are here too, so a missing one is still named with its
package, with ``bootstrap`` False: ``./bootstrap`` does not install them.
"""

from __future__ import annotations

import os
from typing import NamedTuple

__all__ = ["PROGRAMS", "HostProgram", "missing_program_hint", "package_of"]


class HostProgram(NamedTuple):
    """One program: the name it is run by (argv[0]'s last component) and the Debian package shipping it.

    ``bootstrap`` is False for a run-time need that ``./bootstrap`` leaves off
    the development host (``install = false`` in a plugin's system-deps).
    """

    name: str
    package: str
    runs_it: str
    bootstrap: bool = True


_TABLE = (
    # ---------------------------------------------------------------- run by core (the plugins declare theirs)
    HostProgram("setfiles", "policycoreutils", "host-validate: looks for SELinux's relabelling tool"),
    HostProgram(
        "sensible-editor", "sensible-utils", "pyvirsh's edit commands: the editor when $VISUAL/$EDITOR are unset"
    ),
    HostProgram("sh", "dash", "pyvirsh's edit commands: an $EDITOR with arguments (virsh runs it so); tests"),
    HostProgram("python3", "python3-minimal", "tests and benchmarks (pyvirt-lxc declares it for its controller)"),
    # ---------------------------------------------------------------- run by tests, benchmarks and the demo
    HostProgram("virsh", "libvirt-clients", "tests and benchmarks: real libvirt 9.0 as the reference"),
    HostProgram("libvirtd", "libvirt-daemon", "benchmarks: a private libvirtd as the reference"),
    HostProgram("virt-install", "virtinst", "pyvirt-qemu tests: Debian's virt-install as a client of pyvirtd"),
    HostProgram("qemu-ga", "qemu-guest-agent", "pyvirt-qemu tests: the TCG Linux guest's agent (copied in)"),
    HostProgram("man", "man-db", "pyvirsh tests: the generated man page renders without a warning"),
    HostProgram("file", "file", "test driver tests: libmagic's reading of the screenshot's PNG header"),
    HostProgram("virtlogd", "libvirt-daemon", "benchmarks: the private libvirtd's log daemon"),
    HostProgram("virt-ssh-helper", "libvirt-daemon", "ssh tests: libvirt's helper, the reference for pyvirt's"),
    HostProgram("qemu-io", "qemu-utils", "pyvirt-qemu tests: read and write guest disk images"),
    HostProgram("qemu-nbd", "qemu-utils", "pyvirt-qemu tests: an NBD server for network disks"),
    HostProgram("qemu-storage-daemon", "qemu-system-common", "pyvirt-qemu tests: a vhost-user-blk disk's server"),
    HostProgram("auditctl", "auditd", "audit tests: switch kernel auditing on"),
    HostProgram("setcap", "libcap2-bin", "capability tests: file capabilities of test binaries"),
    HostProgram("capsh", "libcap2-bin", "capability tests: a child that prints its capability sets"),
    HostProgram("ip", "iproute2", "network and LXC tests: namespaces, veth pairs, bridges"),
    HostProgram("mount", "mount", "LXC and QEMU tests: bind mounts, hugetlbfs"),
    HostProgram("umount", "mount", "LXC and QEMU tests: undo their mounts"),
    HostProgram("losetup", "mount", "QEMU tests: a host block device for a <disk device='lun'>"),
    HostProgram("unshare", "util-linux", "benchmarks: the private libvirtd's mount namespace"),
    HostProgram("nsenter", "util-linux", "LXC tests: look at a container from inside its namespaces"),
    HostProgram("runuser", "util-linux", "storage tests: a session libvirtd as nobody, the reference for pool-build"),
    HostProgram("dpkg-query", "dpkg", "host program tests: which package ships a program"),
    HostProgram("apt-cache", "apt", "pyvirt.testing.sources: which kernel package the guest tests fetch"),
    HostProgram("dpkg-deb", "dpkg", "pyvirt.testing.sources: unpack the guest kernel and busybox packages"),
    HostProgram("dpkg-source", "dpkg-dev", "pyvirt.testing.sources: apt-get source unpacks libvirt's source with it"),
    HostProgram("tar", "tar", "daemon tests: unpack libvirt-python's sdist for its own test suite"),
    HostProgram("pkill", "procps", "network tests and benchmarks: stop what they started by name"),
    HostProgram("pgrep", "procps", "benchmarks: find a daemon's pid to read its memory use"),
    HostProgram("openssl", "openssl", "QEMU graphics tests: TLS certificates for VNC; ESX tests: vcsim's certificate"),
    HostProgram("ssh", "openssh-client", "the remote driver's +ssh transport (qemu+ssh://host/system)"),
    HostProgram("ssh-keygen", "openssh-client", "multi-host tests: host and client keys for their sshd"),
    HostProgram("sshd", "openssh-server", "multi-host tests: an sshd in each test host's namespace"),
    HostProgram("ss", "iproute2", "multi-host tests: which sockets a test host listens on or has open"),
    HostProgram("ps", "procps", "multi-host tests: no ssh child is left behind by a failed open"),
    HostProgram("go", "golang-go", "ESX tests and bootstrap: build govmomi's vSphere simulator (vcsim)"),
    HostProgram("apt-get", "apt", "ESX tests and bootstrap: fetch vcsim's main package (govmomi's source)"),
    HostProgram("bash", "bash", "tests: shell pipelines"),
    HostProgram("cat", "coreutils", "command tests"),
    HostProgram("chmod", "coreutils", "command tests"),
    HostProgram("echo", "coreutils", "command tests"),
    HostProgram("env", "coreutils", "command tests: print the child's environment"),
    HostProgram("false", "coreutils", "command tests"),
    HostProgram("sleep", "coreutils", "command, QEMU and LXC tests: a child or container init that waits"),
    HostProgram("touch", "coreutils", "command tests"),
    HostProgram("true", "coreutils", "command tests and benchmarks"),
)


def _declared_by_plugins() -> list[HostProgram]:
    """The programs each installed plugin declares in its ``system-deps.toml`` (:mod:`pyvirt.util.system_deps`)."""
    from pyvirt.util.system_deps import installed_plugin_packages, load_system_deps

    return [
        HostProgram(dep.name, dep.package, f"{package}: {dep.why}", dep.install)
        for package in installed_plugin_packages()
        for dep in load_system_deps(package)
        if dep.kind == "program"
    ]


PROGRAMS: dict[str, HostProgram] = {p.name: p for p in (*_declared_by_plugins(), *_TABLE)}


def package_of(program: str) -> str | None:
    """The Debian package that provides ``program`` (a name or a path), or None when the table does not know it."""
    entry = PROGRAMS.get(os.path.basename(program))
    return entry.package if entry is not None else None


def missing_program_hint(program: str) -> str:
    """`` (install the Debian package 'X')`` for a known program, else nothing: the tail of a not-found error."""
    package = package_of(program)
    return f" (install the Debian package '{package}')" if package else ""
