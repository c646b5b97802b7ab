"""Every program pyvirt runs comes from a Debian package that ``./bootstrap`` installs.

The story: ``./bootstrap test`` failed on a fresh Debian 12 machine because
``qemu-img`` lives in ``qemu-utils``, which the bootstrap did not install and
the development machine happened to have. Three checks close that class of
mistake, each against the real machine (dpkg's database), none against a
copy of it:

1. the sources start no program that :mod:`pyvirt.util.host_programs` does
   not list: an AST scan of core, the plugins, their tests, the benchmarks
   and the demo for argv literals given to ``Command``/``subprocess``/
   ``os.exec*``, for ``shutil.which`` arguments and for ``/usr/bin/...``
   paths, following names to their assignments;
2. dpkg says each listed program belongs to the listed package (so the
   "install the Debian package X" of a not-found error is right);
3. that package is in what ``./bootstrap`` installs on a fresh machine: its
   list (``./bootstrap packages``), everything those depend on (Depends and
   Pre-Depends, recursively, as ``apt-get --no-install-recommends`` follows
   them), and Debian's essential and required packages, which every
   installation has. A package that only happens to be installed here counts
   for nothing.

Shell scripts (``bootstrap``, ``tools/*``) are not scanned: they run apt and
dpkg, which are essential.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import NamedTuple

import pytest

from pyvirt.util.host_programs import PROGRAMS
from pyvirt.util.system_deps import SystemDep, parse_system_deps

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="checks Debian packages with dpkg"),
    # a check of the whole checkout (bootstrap, every plugin, bench, demo.py): a core sdist has none of it
    pytest.mark.skipif(not (ROOT / "bootstrap").exists(), reason="checks the repository: run it from a checkout"),
]

# ----------------------------------------------------------------------------------------------- the scan

SPAWN_CALLS = {
    *(("subprocess", n) for n in ("run", "Popen", "call", "check_call", "check_output", "getoutput")),
    *(("os", n) for n in ("execv", "execve", "execvp", "execvpe", "execl", "execle", "execlp", "execlpe")),
    *(("os", n) for n in ("posix_spawn", "posix_spawnp", "spawnv", "spawnve", "spawnvp", "spawnvpe")),
    ("os", "system"),
    ("os", "popen"),
    ("asyncio", "create_subprocess_exec"),
    ("asyncio", "create_subprocess_shell"),
    ("pty", "spawn"),
}
SPAWN_CLASSES = {"Command", "QemuCommand"}  # pyvirt's own: argv first, or the emulator's path
PASS_THROUGH = {"str", "fspath", "Path", "realpath", "abspath", "which", "list", "tuple"}
PROGRAM_PATH = re.compile(r"(?<![\w./-])/(?:usr/)?(?:local/)?s?bin/([A-Za-z0-9_][\w.+-]*)")

# String literals that look like programs but are not run on the host, each with the reason.
NOT_RUN_ON_HOST = {
    "qemu-system-i386": "an <emulator> path in libvirt's qemuxml2* test data, compared as text, never run",
    "qemu-system-aarch64": "an <emulator> path in libvirt's qemuxml2* test data, compared as text, never run",
    "qemu-system-arm": "an <emulator> path in libvirt's qemuxml2* test data, compared as text, never run",
    "qemu-system-ppc64": "an <emulator> path in libvirt's qemuxml2* test data, compared as text, never run",
    "qemu-system-ppc": "an <emulator> path in libvirt's qemuxml2* test data, compared as text, never run",
    "qemu-system-riscv32": "an <emulator> path in libvirt's qemuxml2* test data, compared as text, never run",
    "qemu-system-riscv64": "an <emulator> path in libvirt's qemuxml2* test data, compared as text, never run",
    "qemu-system-s390x": "an <emulator> path in libvirt's qemuxml2* test data, compared as text, never run",
    "qemu-system-sparc": "an <emulator> path in libvirt's qemuxml2* test data, compared as text, never run",
    "init": "a container's /sbin/init: runs inside the container's own root (tests give it a busybox root)",
    "nothere": "an LXC test's missing init path, refused before anything runs",
    "test-hv": "the test:/// driver's fictional emulator path in its capabilities",
    "nologin": "the login shell in a passwd line a benchmark writes",
    "sudo": "AppArmor profile tests: a path the profile must refuse, never run",
    "emulator": "command tests: a missing absolute path, run to see exec fail",
    "no-such-program-pyvirt": "a name looked up in PATH to see the lookup fail",
    "qemu-system-": "virt-install tests: the start of the QEMU command line in a guest's log, searched for",
    "busybox": "the nested Xen dom0's and guest's initramfs interpreter (#!/bin/busybox), run inside them",
}

# Spawns whose program the scan cannot follow to a literal, with where the program comes from.
# Keyed by (file, the program expression as written): an edited line must be looked at again.
DYNAMIC = {
    (
        "core/tests/cli/test_dump_cmd.py",
        "[*PYVIRSH, '-c', 'test:///default', f\"dump test {tmp_path / 'c2'} --crash; domstate test\"]",
    ): "the venv's pyvirsh (sys.executable -m pyvirt.cli.main)",
    (
        "core/tests/cli/test_dump_cmd.py",
        "[*argv, '-c', uri, line]",
    ): "Debian's virsh (in the table) or the venv's pyvirsh",
    ("plugins/pyvirt-qemu/tests/conftest.py", "argv"): (
        "Debian's virsh (in the table) or the venv's pyvirsh, an event listener (EventListener) of a test"
    ),
    ("core/tests/conftest.py", "argv"): (
        "Debian's virsh (in the table) or the venv's pyvirsh, an event listener (EventListeners) of a test"
    ),
    (
        "plugins/pyvirt-lxc/tests/test_daemon_virsh_console.py",
        "argv[0]",
    ): "Debian's virsh (in the table) in a pty child",
    ("core/src/pyvirt/util/system_deps.py", "dep.name"): "each program a plugin declares (in the table)",
    ("core/src/pyvirt/cli/lxc_enter_namespace_cmd.py", "argv[0]"): (
        "the user's command of lxc-enter-namespace, exec'd inside the container's namespaces (virsh's execv)"
    ),
    ("plugins/pyvirt-lxc/tests/test_enter_namespace.py", "[*tool, '-c', uri, *args]"): (
        "Debian's virsh or pyvirsh (both in the table); the commands they run are the container's busybox"
    ),
    ("plugins/pyvirt-qemu/tests/test_vhost_user.py", "argv"): (
        "qemu-storage-daemon (in the table), or the virtiofsd QEMU's vhost-user descriptor names (qemu-system-common)"
    ),
    ("core/src/pyvirt/util/command.py", "self.argv"): "Command itself: its callers' argv are scanned",
    ("plugins/pyvirt-nwfilter/tests/test_bindings.py", "argv"): (
        "ip and nft (in the table), and the guest-linux corpus's busybox (its ping) inside the test's namespaces"
    ),
    ("core/src/pyvirt/cli/edit_cmds.py", "argv"): "the user's $VISUAL/$EDITOR, else sensible-editor (in the table)",
    ("bench/bench_scripts.py", "args"): "Debian's virsh or pyvirsh (both in the table), the tool being timed",
    ("core/tests/cli/test_script_corpus.py", "args"): "Debian's virsh or pyvirsh (both in the table), through run_once",
    ("core/tests/cli/test_edit_cmds.py", "[*tool, '-c', 'test:///default', line]"): (
        "virsh or pyvirsh (both in the table) with one script line"
    ),
    ("core/tests/cli/test_progress.py", "[*tool, *args]"): "virsh or pyvirsh (both in the table)",
    ("core/tests/cli/test_secret_cmds.py", "[*PYVIRSH, '-c', 'test:///default', line]"): (
        "pyvirsh (sys.executable -m pyvirt.cli.main) with one script line"
    ),
    ("core/tests/cli/test_save_image_cmds.py", "[*argv, *(extra or []), '-c', uri, line]"): (
        "Debian's virsh (in the table) or the venv's pyvirsh, with one script line"
    ),
    ("core/tests/cli/test_save_image_cmds.py", "[VIRSH, line]"): "Debian's virsh (in the table): help texts",
    ("core/tests/cli/test_save_image_cmds.py", "[*PYVIRSH, line]"): "the venv's pyvirsh: help texts",
    ("core/tests/cli/test_save_paths.py", "[*argv, '-c', uri, line]"): (
        "Debian's virsh (in the table) or the venv's pyvirsh (virsh_compare.PYVIRSH), with one script line"
    ),
    ("plugins/pyvirt-qemu/tests/test_console_tty_daemon.py", "argv[0]"): (
        "the venv's pyvirsh (next to sys.executable) or Debian's virsh (in the table), exec'd on a pty"
    ),
    (
        "plugins/pyvirt-qemu/tests/test_qemu_monitor_event.py",
        "[*TOOLS[tool], '-c', uri, 'qemu-monitor-event', *args]",
    ): ("the listener under test: Debian's virsh (in the table) or pyvirsh (sys.executable -m pyvirt.cli.main)"),
    ("plugins/pyvirt-qemu/tests/test_qemu_monitor_event.py", "[*TOOLS[tool], '-c', uri, line]"): (
        "Debian's virsh (in the table) or pyvirsh (sys.executable -m pyvirt.cli.main), with one script line"
    ),
    (
        "plugins/pyvirt-qemu/tests/test_qemu_monitor_event.py",
        "[*TOOLS[tool], '-r', '-c', daemon.uri('qemu:///system', read_only=True), 'qemu-monitor-event --timeout 1']",
    ): "Debian's virsh (in the table) or pyvirsh (sys.executable -m pyvirt.cli.main) on the read-only socket",
    ("bench/bench_daemon.py", "install.python"): (
        "os.execve of the wheel venv's python (bench/wheel_install.py builds it from sys.executable or --python):"
        " the benchmark re-runs itself from the install it measures"
    ),
    ("bench/wheel_install.py", "[str(self.python), '-c', 'import platform; print(platform.python_version())']"): (
        "the venv's python (made from sys.executable or the --python interpreter), asked its version"
    ),
    ("core/src/pyvirt/testing/virsh.py", "[*tool, '-c', uri, line]"): "virsh or pyvirsh (both in the table), "
    "the tests' comparison runner",
    ("core/tests/cli/virsh_compare.py", "argv[0]"): "virsh or pyvirsh (both in the table) in a pty child",
    ("core/src/pyvirt/util/command.py", "program"): "Command itself: its callers' argv are scanned",
    ("core/src/pyvirt/util/command.py", "prog"): "Command's PATH lookup: its callers' argv are scanned",
    ("core/tests/util/test_command.py", "[str(f)]"): "a script the test writes into tmp_path",
    ("core/tests/util/test_filecaps.py", "[str(binary), '30']"): "a copy of /bin/sleep given file capabilities",
    ("core/tests/util/test_missing_program.py", "list(argv)"): "programs that are missing on purpose",
    ("plugins/pyvirt-lxc/src/pyvirt_lxc/container_init.py", "init"): "the container's init, inside its root",
    ("plugins/pyvirt-qemu/src/pyvirt_qemu/command_line.py", "emulator_for(dom)"): (
        "the guest's <emulator>, else qemu-system-<arch>; the tests run qemu-system-x86_64 (in the table)"
    ),
    ("plugins/pyvirt-qemu/src/pyvirt_qemu/driver.py", "qcmd.argv"): "QEMU's argv, built by command_line.py",
    ("plugins/pyvirt-qemu/src/pyvirt_qemu/process.py", "qcmd.argv"): "QEMU's argv, built by command_line.py",
    (
        "plugins/pyvirt-qemu/src/pyvirt_qemu/emulator_caps.py",
        "[path, '-S', '-no-user-config', '-nodefaults', '-nographic', '-machine', 'none', '-accel', "
        "'kvm' if kvm else 'tcg', '-qmp', f'unix:{sock},server=on,wait=off']",
    ): "an emulator the capabilities found (qemu-system-<arch>)",
    ("plugins/pyvirt-qemu/src/pyvirt_qemu/domain_capabilities.py", "name"): "qemu-system-<arch> of the request",
    ("plugins/pyvirt-qemu/src/pyvirt_qemu/emulator_caps.py", "name"): "qemu-system-<arch> of the guest, found on PATH",
    ("plugins/pyvirt-qemu/src/pyvirt_qemu/host_capabilities.py", "f'qemu-system-{arch}'"): (
        "every qemu-system-<arch> installed, probed; bootstrap installs the x86 one (in the table)"
    ),
    ("plugins/pyvirt-qemu/src/pyvirt_qemu/tap.py", "[nic.script_path, real]"): "the <script path=...> of the user",
    ("plugins/pyvirt-storage/src/pyvirt_storage/dir_backend.py", "argv"): (
        "qemu-img's command line as libvirt builds it (qemu_img.create_command; qemu-img is in the table)"
    ),
    ("bench/bench_test_driver.py", "cmd"): "virsh and pyvirsh, found with shutil.which and sys.executable in main()",
    ("bench/bench_migration.py", "argv"): "virsh, pyvirsh and ssh-keygen (in the table), and the ssh-mux ssh wrapper",
    ("core/tests/daemon/test_volume_streams.py", "[*tool, '-c', uri, *args]"): "virsh or pyvirsh (both in the table)",
    ("plugins/pyvirt-esx/tests/vcsim.py", "args"): "the vcsim binary bootstrap built from govmomi (go, in the table)",
    ("core/src/pyvirt/remote/ssh.py", "argv[0]"): "ssh, or the URI's ?command= (libvirt's ssh binary), from ssh_argv",
    ("core/tests/hosts/hosts_harness.py", "self.argv('ss', '-Hltn', f'sport = :{port}')"): (
        "ss (in the table) inside a test host's namespace: ip netns exec NS ss ..."
    ),
    ("core/tests/hosts/hosts_harness.py", "argv"): (
        "sshd (in the table) inside a test host's namespace, under unshare (in the table) with a mount set-up"
    ),
    ("core/tests/hosts/test_tls.py", "argv"): "ss (in the table) inside a test host's namespace",
    ("core/tests/hosts/test_tls.py", "host.argv('ss', '-Hltn')"): "ss (in the table) inside a test host's namespace",
    ("core/tests/hosts/ansible_venv.py", "argv"): (
        "Debian's /usr/bin/python3 (in the table) making the Ansible virtualenv, then its python running pip"
    ),
    ("core/tests/hosts/test_ansible.py", "argv"): "the Ansible virtualenv's python running ansible-playbook",
    ("plugins/pyvirt-xen/tests/test_nested_xen.py", "[str(DOM0_CACHE_FETCH)]"): (
        "the plugin's tools/fetch-xen-dom0 script (apt-get download, dpkg-deb, gunzip: in the table or required)"
    ),
    ("bench/bench_xen.py", "[str(DOM0_CACHE_FETCH)]"): (
        "the plugin's tools/fetch-xen-dom0 script (apt-get download, dpkg-deb, gunzip: in the table or required)"
    ),
    ("bench/bench_xen_convert.py", "[str(DOM0_CACHE_FETCH)]"): (
        "the plugin's tools/fetch-xen-dom0 script (apt-get download, dpkg-deb, gunzip: in the table or required)"
    ),
    ("plugins/pyvirt-qemu/tests/test_migration_network_cut.py", "[*PYVIRSH, '-c', _uri(host), *argv]"): (
        "pyvirsh (migration_hosts.PYVIRSH: sys.executable -m pyvirt.cli.main) against a test host"
    ),
    ("plugins/pyvirt-qemu/tests/test_migration_network_cut.py", "migrate"): (
        "pyvirsh migrate (migration_hosts.PYVIRSH: sys.executable -m pyvirt.cli.main)"
    ),
    ("plugins/pyvirt-qemu/tests/test_migration_network_cut.py", "[*migrate, '--bandwidth', '1', 'counter', dest]"): (
        "pyvirsh migrate (migration_hosts.PYVIRSH: sys.executable -m pyvirt.cli.main)"
    ),
    ("plugins/pyvirt-qemu/tests/test_migration_network_cut.py", "[*migrate, 'counter', dest]"): (
        "pyvirsh migrate (migration_hosts.PYVIRSH: sys.executable -m pyvirt.cli.main)"
    ),
    ("plugins/pyvirt-qemu/tests/test_migration_postcopy.py", "argv"): (
        "pyvirsh migrate --postcopy (migration_hosts.PYVIRSH: sys.executable -m pyvirt.cli.main)"
    ),
}


class Spawn(NamedTuple):
    """One place the sources name a program: the file, the line, and the program or what could not be followed."""

    file: str
    line: int
    program: str | None  # the program's name (argv[0]'s last component); None: dynamic
    source: str  # the expression as written


PYTHON = "python3"  # sys.executable and the venv's console scripts: the interpreter bootstrap's python3-venv brings
REPO_FILE = ""  # a script of this repository (tools/...): not a host program


def _sources() -> Iterator[Path]:
    tops = ["core/src", "core/tests", "bench"]
    tops += [str(p.relative_to(ROOT)) for p in sorted((ROOT / "plugins").glob("*/src"))]
    tops += [str(p.relative_to(ROOT)) for p in sorted((ROOT / "plugins").glob("*/tests"))]
    for top in tops:
        yield from sorted((ROOT / top).rglob("*.py"))
    yield ROOT / "demo.py"
    yield ROOT / "noxfile.py"


class _Module:
    """One parsed file, with parent links, to follow a name to the values assigned to it."""

    def __init__(self, rel: str, text: str) -> None:
        self.rel = rel
        self.tree = ast.parse(text, rel)
        self.parent: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parent[child] = node
        self.docstrings = {
            id(node.body[0].value)
            for node in ast.walk(self.tree)
            if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }

    def scopes(self, node: ast.AST) -> list[ast.AST]:
        """Enclosing functions, innermost first, then the module."""
        out: list[ast.AST] = []
        while node in self.parent:
            node = self.parent[node]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                out.append(node)
        return [*out, self.tree]

    def enclosing_class(self, node: ast.AST) -> ast.ClassDef | None:
        while node in self.parent:
            node = self.parent[node]
            if isinstance(node, ast.ClassDef):
                return node
        return None

    def resolve(self, expr: ast.AST, depth: int = 0) -> set[str | None]:
        """Program names ``expr`` can hold; None for a value the scan cannot follow."""
        if depth > 8:
            return {None}
        if _mentions_sys_executable(expr):
            return {PYTHON}
        if any(isinstance(n, ast.Name) and n.id == "__file__" for n in ast.walk(expr)):
            return {REPO_FILE}
        if isinstance(expr, ast.Constant) and expr.value is None:  # which(...) or None
            return set()
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            words = expr.value.split()
            return {os.path.basename(words[0])} if words else set()
        if isinstance(expr, ast.JoinedStr):  # f"prog {arg}": the program is written out; f"prog-{x}" is not
            head = expr.values[0] if expr.values else None
            if isinstance(head, ast.Constant) and isinstance(head.value, str) and re.match(r"\s*\S+\s", head.value):
                return {os.path.basename(head.value.split()[0])}
            return {None}
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Div):  # ROOT / "tools" / "x"
            return {REPO_FILE} if REPO_FILE in self.resolve(expr.left, depth + 1) else {None}
        if isinstance(expr, ast.List | ast.Tuple):
            return self.resolve(expr.elts[0], depth + 1) if expr.elts else set()
        if isinstance(expr, ast.Starred):
            return self.resolve(expr.value, depth + 1)
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
            return self.resolve(expr.left, depth + 1)
        if isinstance(expr, ast.IfExp):
            return self.resolve(expr.body, depth + 1) | self.resolve(expr.orelse, depth + 1)
        if isinstance(expr, ast.BoolOp):
            return set().union(*(self.resolve(v, depth + 1) for v in expr.values))
        if isinstance(expr, ast.Name):
            return self._resolve_name(expr, depth)
        if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id == "self":
            return self._resolve_self_attr(expr, depth)
        if isinstance(expr, ast.Call):
            name = _call_name(expr)
            if name in PASS_THROUGH and expr.args:
                return self.resolve(expr.args[0], depth + 1)
            if name == "join" and expr.args:  # os.path.join(dir, "prog")
                return self.resolve(expr.args[-1], depth + 1)
            local = self._local_function(name)
            if local is not None:
                returns = [n.value for n in ast.walk(local) if isinstance(n, ast.Return) and n.value is not None]
                return set().union(*(self.resolve(r, depth + 1) for r in returns)) if returns else {None}
        # anything else (next(...) over candidate paths, ...): the program paths written inside it
        paths: set[str | None] = {m.group(1) for c in _str_constants(expr) for m in PROGRAM_PATH.finditer(c)}
        return paths or {None}

    def _resolve_name(self, expr: ast.Name, depth: int) -> set[str | None]:
        for scope in self.scopes(expr):
            values: list[ast.AST] = []
            for node in ast.walk(scope):
                assigned = _assigned(node, expr.id)
                if assigned is not None:
                    values.append(assigned)
                elif isinstance(node, ast.For | ast.comprehension) and _binds(node.target, expr.id):
                    items = self._iterated(node.target, node.iter, expr.id, scope)
                    if items is None:
                        return {None}
                    values += items
                elif isinstance(node, ast.withitem) and _binds(node.optional_vars, expr.id):
                    return {None}
            if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                args = scope.args
                positional = [*args.posonlyargs, *args.args]
                defaults = dict(zip([a.arg for a in positional][::-1], args.defaults[::-1], strict=False))
                defaults |= {a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None}
                if any(a.arg == expr.id for a in [*positional, *args.kwonlyargs]):
                    passed = self._arguments(scope, expr.id)
                    if passed is None:
                        return {None}
                    values += passed
                    if expr.id in defaults:
                        values.append(defaults[expr.id])
            if values:
                if any(isinstance(v, ast.Tuple) for v in values):  # unpacking: cannot tell which element
                    return {None}
                return set().union(*(self.resolve(v, depth + 1) for v in values))
        return {None}

    def _arguments(self, func: ast.AST, name: str) -> list[ast.AST] | None:
        """What this module's calls of ``func`` pass as parameter ``name``; None when not every call can be seen.

        Only functions with a name, called by that name in this file: a
        function whose name this file never calls is someone else's to feed.
        """
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            return None
        params = [a.arg for a in [*func.args.posonlyargs, *func.args.args]]
        cls = self.parent.get(func)
        if isinstance(cls, ast.ClassDef):  # a method: self.name(...), or ClassName(...) for __init__
            callee = cls.name if func.name == "__init__" else func.name
            calls = [n for n in ast.walk(self.tree) if isinstance(n, ast.Call) and _call_name(n) == callee]
        else:
            home = self.scopes(func)[0]  # a nested function is called from where it is defined
            calls = [
                n for n in ast.walk(home) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                if n.func.id == func.name
            ]  # fmt: skip
        if not calls:
            return [] if name in params[len(params) - len(func.args.defaults) :] else None
        out: list[ast.AST] = []
        for call in calls:
            offset = 1 if params[:1] in (["self"], ["cls"]) else 0
            keyword = [k.value for k in call.keywords if k.arg == name]
            index = params.index(name) - offset if name in params else -1
            if keyword:
                out += keyword
            elif 0 <= index < len(call.args) and not any(isinstance(a, ast.Starred) for a in call.args[: index + 1]):
                out.append(call.args[index])
            elif not (name in params and params.index(name) >= len(params) - len(func.args.defaults)):
                return None  # passed in a way the scan does not follow
        return out

    def _iterated(self, target: ast.AST, it: ast.AST, name: str, scope: ast.AST) -> list[ast.AST] | None:
        """The values ``name`` takes in ``for target in it`` when ``it`` is a literal (or a name bound to one)."""
        index = None
        if isinstance(target, ast.Tuple):
            index = [isinstance(t, ast.Name) and t.id == name for t in target.elts].index(True)
            if isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) and it.func.attr == "items":
                if index > 0:
                    return None  # a dict's values: not followed
                it, index = it.func.value, None
        elif isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) and it.func.attr == "keys":
            it = it.func.value
        if isinstance(it, ast.Name):
            for enclosing in self.scopes(it):  # the innermost scope that binds the name
                bound = [
                    n.value
                    for n in ast.walk(enclosing)
                    if isinstance(n, ast.Assign) and any(_binds(t, it.id) for t in n.targets)
                ]
                if bound:
                    it = bound[0] if len(bound) == 1 else it
                    break
        elements = _elements(it)
        if index is None or elements is None or not isinstance(target, ast.Tuple):
            return elements
        # for a, b in ((x, y), ...): the element at the name's position of each row
        rows = [e for e in elements if isinstance(e, ast.Tuple | ast.List) and len(e.elts) == len(target.elts)]
        picked: list[ast.AST] = [row.elts[index] for row in rows]
        return picked if len(rows) == len(elements) else None

    def _resolve_self_attr(self, expr: ast.Attribute, depth: int) -> set[str | None]:
        cls = self.enclosing_class(expr)
        if cls is None:
            return {None}
        values = [
            node.value
            for node in ast.walk(cls)
            if isinstance(node, ast.Assign)
            for t in node.targets
            if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"
            if t.attr == expr.attr
        ]
        return set().union(*(self.resolve(v, depth + 1) for v in values)) if values else {None}

    def _local_function(self, name: str | None) -> ast.FunctionDef | None:
        for node in self.tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                return node
        return None


def _elements(it: ast.AST) -> list[ast.AST] | None:
    """The element expressions of a literal collection (a dict's keys), None when it is not a literal."""
    if isinstance(it, ast.Dict):
        keys: list[ast.AST] = [k for k in it.keys if k is not None]
        return keys if len(keys) == len(it.keys) else None
    if isinstance(it, ast.List | ast.Tuple | ast.Set):
        out: list[ast.AST] = []
        for elt in it.elts:
            if isinstance(elt, ast.Starred):
                inner = elt.value
                branches = [inner.body, inner.orelse] if isinstance(inner, ast.IfExp) else [inner]
                for branch in branches:
                    more = _elements(branch)
                    if more is None:
                        return None
                    out += more
            else:
                out.append(elt)
        return out
    return None


def _assigned(node: ast.AST, name: str) -> ast.AST | None:
    """The value ``node`` assigns to ``name`` (``name = v``, ``name: T = v``), else None."""
    if isinstance(node, ast.Assign) and any(_binds(t, name) for t in node.targets):
        return node.value
    if isinstance(node, ast.AnnAssign) and node.value is not None and _binds(node.target, name):
        return node.value
    return None


def _binds(target: ast.AST | None, name: str) -> bool:
    if isinstance(target, ast.Name):
        return target.id == name
    if isinstance(target, ast.Tuple | ast.List):
        return any(_binds(t, name) for t in target.elts)
    return False


def _call_name(call: ast.Call) -> str | None:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def _mentions_sys_executable(expr: ast.AST) -> bool:
    return any(
        isinstance(n, ast.Attribute)
        and n.attr == "executable"
        and isinstance(n.value, ast.Name)
        and n.value.id == "sys"
        for n in ast.walk(expr)
    )


def _str_constants(expr: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(expr) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _is_spawn(call: ast.Call) -> bool:
    f = call.func
    if isinstance(f, ast.Name):
        return f.id in SPAWN_CLASSES
    return isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and (f.value.id, f.attr) in SPAWN_CALLS


def scan(rel: str, text: str) -> list[Spawn]:
    """Every program one file runs or looks for, in order of appearance."""
    mod = _Module(rel, text)
    found: list[Spawn] = []

    def add(node: ast.AST, expr: ast.AST, followable: bool = True) -> None:
        for program in sorted(mod.resolve(expr), key=str):
            if program != REPO_FILE and (program is not None or followable):
                found.append(Spawn(rel, getattr(node, "lineno", 0), program, ast.unparse(expr)))

    for node in ast.walk(mod.tree):
        if isinstance(node, ast.Call) and _is_spawn(node):
            args = node.args or [k.value for k in node.keywords if k.arg in ("args", "argv", "executable")]
            if args:
                add(node, args[0])
            if args and isinstance(args[0], ast.List) and mod.resolve(args[0]) == {PYTHON}:
                # [python, "-c", WRAPPER, *argv]: a Python wrapper runs argv's program
                for elt in args[0].elts[1:]:
                    if isinstance(elt, ast.Starred):
                        add(node, elt.value, followable=False)
        elif isinstance(node, ast.Call) and _call_name(node) == "which" and node.args:
            if not any(k.arg == "path" and _mentions_sys_executable(k.value) for k in node.keywords):
                add(node, node.args[0])  # which("pyvirsh", path=<the venv's bin>) is this repository's own
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in mod.docstrings:
            found += [Spawn(rel, node.lineno, m.group(1), m.group(0)) for m in PROGRAM_PATH.finditer(node.value)]
    return sorted(found, key=lambda s: (s.line, str(s.program)))


@cache
def scan_sources() -> tuple[Spawn, ...]:
    out: list[Spawn] = []
    for path in _sources():
        out += scan(str(path.relative_to(ROOT)), path.read_text())
    return tuple(out)


# ------------------------------------------------------------------------------------------ dpkg and bootstrap


class _Package(NamedTuple):
    essential: bool
    priority: str
    depends: list[list[str]]  # Pre-Depends + Depends: groups of alternatives
    provides: list[str]


def _names(field: str) -> list[list[str]]:
    """``a (>= 1) | b:any, c`` -> [[a, b], [c]]."""
    groups = []
    for group in filter(None, (g.strip() for g in field.split(","))):
        groups.append([re.split(r"[\s(:]", alt.strip(), maxsplit=1)[0] for alt in group.split("|")])
    return groups


@cache
def installed() -> dict[str, _Package]:
    fmt = "${Package}\\t${Status}\\t${Essential}\\t${Priority}\\t${Pre-Depends}\\t${Depends}\\t${Provides}\\n"
    out = subprocess.run(["dpkg-query", "-W", "-f", fmt], capture_output=True, text=True, check=True).stdout
    packages = {}
    for line in out.splitlines():
        name, status, essential, priority, pre, dep, provides = line.split("\t")
        if status.endswith(" installed"):
            packages[name] = _Package(essential == "yes", priority, _names(pre) + _names(dep), [
                alt for group in _names(provides) for alt in group
            ])  # fmt: skip
    return packages


@cache
def bootstrap_packages() -> tuple[str, ...]:
    out = subprocess.run([str(ROOT / "bootstrap"), "packages"], capture_output=True, text=True, check=True)
    return tuple(out.stdout.split())


@cache
def fresh_install() -> frozenset[str]:
    """What a fresh Debian machine has after ``./bootstrap``: its list, the base system, and their dependencies.

    An alternative (``a | b``) counts only through its first choice, which is
    what apt installs on a fresh machine; whatever else satisfies it here
    does not count.
    """
    pkgs = installed()
    providers: dict[str, list[str]] = {}
    for name, pkg in pkgs.items():
        for virtual in pkg.provides:
            providers.setdefault(virtual, []).append(name)
    base = [name for name, pkg in pkgs.items() if pkg.essential or pkg.priority == "required"]
    todo = [*bootstrap_packages(), *base]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        entry = pkgs.get(name)
        if entry is None:
            todo += providers.get(name, [])  # a virtual package: what provides it here
            continue
        todo += [group[0] for group in entry.depends]
    return frozenset(seen)


@cache
def owners() -> dict[str, tuple[str, str]]:
    """program -> (package, path) as dpkg knows it, looked for where Debian puts programs (merged /usr or not).

    One ``dpkg-query -S`` for every candidate path: each call reads dpkg's
    whole file database.
    """
    candidates: dict[str, list[str]] = {}
    for program in PROGRAMS:
        paths = [f"{d}/{program}" for d in ("/usr/sbin", "/usr/bin", "/sbin", "/bin")]
        existing = [p for p in paths if os.path.lexists(p)]
        candidates[program] = existing + [os.path.realpath(p) for p in existing if os.path.realpath(p) != p]
    every = sorted({p for paths in candidates.values() for p in paths})
    done = subprocess.run(["dpkg-query", "-S", *every], capture_output=True, text=True, check=False) if every else None
    package_of_path: dict[str, str] = {}
    for line in done.stdout.splitlines() if done else []:
        if line.startswith("diversion"):
            continue
        packages, _, path = line.partition(": ")
        package_of_path[path] = packages.split(",")[0].split(":")[0].strip()
    out = {}
    for program, paths in candidates.items():
        known = [p for p in paths if p in package_of_path]
        if known:
            out[program] = (package_of_path[known[0]], known[0])
    return out


# -------------------------------------------------------------------------------------------------- the tests


def test_bootstrap_installs_the_package_of_every_program() -> None:
    missing = {p.name: p.package for p in PROGRAMS.values() if p.bootstrap and p.package not in fresh_install()}
    assert not missing, (
        f"./bootstrap does not install these programs' packages on a fresh machine: {missing}; "
        "add the packages to APT_PACKAGES"
    )


def test_bootstrap_packages_are_installed_here() -> None:
    """Otherwise the closure above is computed without their dependencies, and every check here is moot."""
    assert not [p for p in bootstrap_packages() if p not in installed()], "run ./bootstrap test"


# a plugin's ``install = false`` programs (Xen's toolstack) are not on this host for dpkg to ask about
@pytest.mark.parametrize("program", sorted(p.name for p in PROGRAMS.values() if p.bootstrap))
def test_each_program_comes_from_the_package_the_table_names(program: str) -> None:
    found = owners().get(program)
    expected = PROGRAMS[program].package
    assert found is not None, f"{program} is not installed: ./bootstrap must install {expected}"
    assert found[0] == expected, f"{found[1]} comes from {found[0]}, not from {expected} as host_programs says"


@pytest.mark.skipif(
    any(importlib.util.find_spec(f"pyvirt_{p.name.removeprefix('pyvirt-')}") is None for p in ROOT.glob("plugins/*")),
    reason="the table names the plugins' programs only when they are installed (tox -e core: the core alone)",
)
def test_the_sources_run_only_programs_the_table_lists() -> None:
    unknown = sorted(
        f"{s.file}:{s.line}: {s.program}"
        for s in scan_sources()
        if s.program is not None and s.program not in PROGRAMS and s.program not in NOT_RUN_ON_HOST
    )
    assert not unknown, (
        "programs run but not in pyvirt.util.host_programs (add each with its Debian package, "
        f"and the package to ./bootstrap): {unknown}"
    )


def _declared(plugin: Path) -> dict[str, SystemDep]:
    """The programs a plugin's ``system-deps.toml`` in the checkout declares (installed or not)."""
    return {
        d.name: d
        for path in sorted(plugin.glob("src/*/system-deps.toml"))
        for d in parse_system_deps(path.read_text(), str(path))
        if d.kind == "program"
    }


def test_each_plugin_declares_every_program_its_sources_run() -> None:
    """A plugin's programs are its own data: host-validate, the hints and a packager's Depends read nothing else.

    Read from the checkout, so it holds without the plugin installed (tox -e
    core). pyvirt-xen is the case that was missing: its toolstack is declared
    with ``install = false`` (works only in a Xen dom0), and still declared.
    """
    undeclared: list[str] = []
    for plugin in sorted((ROOT / "plugins").glob("*/")):
        declared = _declared(plugin)
        undeclared += [
            f"{s.file}:{s.line}: {s.program}"
            for s in scan_sources()
            if s.file.startswith(f"plugins/{plugin.name}/src/") and s.program is not None
            if s.program not in declared and s.program not in NOT_RUN_ON_HOST
        ]
    assert not undeclared, f"programs a plugin runs but does not declare in its system-deps.toml: {undeclared}"
    xen = _declared(ROOT / "plugins" / "pyvirt-xen")
    run_by_xen = {s.program for s in scan_sources() if s.file.startswith("plugins/pyvirt-xen/src/")}
    assert run_by_xen >= {"xl", "xenstore-read", "xenstore-watch"}  # the scan sees the Xen driver's spawns
    assert run_by_xen <= set(xen) and not [d.name for d in xen.values() if d.install]  # all dom0-only


def test_every_program_the_scan_cannot_follow_is_explained() -> None:
    dynamic = {(s.file, s.source) for s in scan_sources() if s.program is None}
    unexplained = sorted(dynamic - DYNAMIC.keys())
    assert not unexplained, f"spawns of programs the scan cannot follow; explain them in DYNAMIC: {unexplained}"
    stale = sorted(DYNAMIC.keys() - dynamic)
    assert not stale, f"DYNAMIC entries that no longer match the sources: {stale}"


def test_every_listed_program_is_still_run() -> None:
    run = {s.program for s in scan_sources()}
    unused = sorted(set(PROGRAMS) - run)
    assert not unused, f"host_programs lists programs nothing runs any more: {unused}"
    assert not sorted(set(NOT_RUN_ON_HOST) - run), "NOT_RUN_ON_HOST entries that no longer occur"


def test_the_scan_sees_each_way_of_starting_a_program() -> None:
    """The scan itself: each form below names one program; a scan that missed one would pass anything."""
    source = textwrap.dedent("""
        import os, shutil, subprocess, sys
        from pyvirt.util.command import Command

        TOOL = "BIN/p-const"

        def build(path="BIN/p-default"):
            return path

        class Runner:
            def __init__(self, override):
                self.binary = override if override else "BIN/p-attr"

            def go(self, script):
                Command([self.binary, "-x"]).run()
                Command(["p-literal", "a"]).run()
                argv = ["p-variable", "create"]
                argv += ["more"]
                subprocess.run(argv, check=False)
                subprocess.check_output(["p-output"])
                subprocess.run(f"p-shell {script}", shell=True)
                os.execv("BIN/p-exec", ["x"])
                shutil.which("p-which")
                found = shutil.which("p-which-var") or next((p for p in ("BIN/p-next",) if os.path.exists(p)), None)
                Command([found]).run()
                Command([TOOL]).run()
                Command([build()]).run()
                subprocess.run([sys.executable, "-c", "pass"])
                subprocess.Popen(args=["p-keyword"])
                Command([script]).run()
                for tool, package in {"p-loop": "pkg"}.items():
                    shutil.which(tool)
                for where, tool in (("a", "p-row"), ("b", TOOL)):
                    subprocess.run([tool, where])
                shutil.which("own-script", path=os.path.dirname(sys.executable))
                wrapped = ["p-wrapped", "-m"]
                subprocess.run([sys.executable, "-c", "reaper", *wrapped])
    """).replace("BIN/", "/usr/sbin/")  # written so, this file's text has no program paths of its own
    spawns = scan("example.py", source)
    programs = {s.program for s in spawns}
    expected = {"p-const", "p-default", "p-attr", "p-literal", "p-variable", "p-output", "p-shell", "p-exec",
                "p-which", "p-which-var", "p-next", "p-keyword", "p-loop", "p-wrapped", "p-row", PYTHON}  # fmt: skip
    assert expected <= programs, f"missed: {expected - programs}"
    assert programs - expected == {None, "override"} or programs - expected == {None}
    assert [s.source for s in spawns if s.program is None] == ["[self.binary, '-x']", "[script]"]
