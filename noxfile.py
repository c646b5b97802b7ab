"""Developer and CI sessions. ``./bootstrap test`` runs lint, typecheck, imports and tests.

Sessions run in the interpreter that runs nox (``--no-venv``, the bootstrap
virtualenv), because the suite needs root, system packages and the editable
installs the bootstrap made; a private nox virtualenv per session would
reinstall everything each time.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nox

nox.options.default_venv_backend = "none"
nox.options.sessions = [
    "lint", "typecheck", "imports", "tests", "conformance", "docs", "example", "lowest", "xen",
]  # fmt: skip

DISTRIBUTIONS = ["core", *sorted(str(p) for p in Path("plugins").glob("*") if (p / "pyproject.toml").exists())]
SOURCES = [f"{d}/src" for d in DISTRIBUTIONS]
TESTS = [f"{d}/tests" for d in DISTRIBUTIONS]


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: style and common bugs."""
    paths = [*SOURCES, *TESTS, "noxfile.py", "demo.py", "bench", "examples"]
    session.run(sys.executable, "-m", "ruff", "check", *paths)
    session.run(sys.executable, "-m", "ruff", "format", "--check", *paths)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over every distribution's sources, and the example driver's (authors copy it)."""
    session.run(sys.executable, "-m", "mypy", "--strict", *SOURCES, "examples/pyvirt-example/src")


@nox.session
def imports(session: nox.Session) -> None:
    """import-linter: core never imports a plugin; plugins never import each other."""
    session.run(os.path.join(os.path.dirname(sys.executable), "lint-imports"), external=True)


@nox.session
def tests(session: nox.Session) -> None:
    """pytest over every distribution (root needed for the process tests)."""
    session.run(sys.executable, "-m", "pytest", "-q", "--durations=25", *TESTS, *session.posargs)


@nox.session
def conformance(session: nox.Session) -> None:
    """libvirt 9.0.0's test data: XML round trips through the models, XML -> QEMU argv; pass rates per suite."""
    session.run(sys.executable, "core/tests/conf/conformance.py")
    session.run(sys.executable, "plugins/pyvirt-qemu/tests/conformance_xml2xml.py")
    session.run(sys.executable, "plugins/pyvirt-qemu/tests/conformance_argv.py")
    session.run(sys.executable, "plugins/pyvirt-esx/tests/conformance_vmx.py")
    session.run(sys.executable, "plugins/pyvirt-xen/tests/conformance_xen.py")
    # libvirt's other corpora, each run as its own test program runs it, byte for byte
    session.run(sys.executable, "core/tests/conf/conformance_other.py")
    session.run(sys.executable, "plugins/pyvirt-network/tests/conformance_networkxml2conf.py")
    session.run(sys.executable, "plugins/pyvirt-storage/tests/conformance_storagevolxml2argv.py")
    session.run(sys.executable, "plugins/pyvirt-lxc/tests/conformance_lxcconf2xml.py")


@nox.session
def xen(session: nox.Session) -> None:
    """The Xen driver on a real hypervisor: Xen 4.17 booted by QEMU under TCG, the tests run in its dom0.

    One dom0 boot runs every test of plugins/pyvirt-xen/tests/in_dom0 (see
    nested_xen.py); the hypervisor, dom0 kernel and toolstack come from the
    cache ``./bootstrap`` fills (plugins/pyvirt-xen/tools/fetch-xen-dom0).
    The phases' times are printed (``-s``) to see where the minutes go.
    """
    session.run(sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                "plugins/pyvirt-xen/tests/test_nested_xen.py", *session.posargs,
                env={"PYVIRT_TEST_XEN": "1"})  # fmt: skip


@nox.session
def fuzz(session: nox.Session) -> None:
    """Nightly: the XML mutation fuzzer far longer than CI runs it (``nox -s fuzz -- CASES SEED``)."""
    cases = session.posargs[0] if session.posargs else "2000000"
    seed = session.posargs[1] if len(session.posargs) > 1 else str(int(time.time()) // 86400)
    env = {"PYVIRT_FUZZ_CASES": cases, "PYVIRT_FUZZ_SEED": seed, "PYVIRT_FUZZ_BUDGET_S": "7200"}
    session.run(sys.executable, "-m", "pytest", "-q", "core/tests/conf/test_fuzz_xml.py", env=env)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks beside the reference, with ratios (not timed tests)."""
    session.run(sys.executable, "bench/bench_command.py", *session.posargs)
    session.run(sys.executable, "bench/bench_test_driver.py")
    session.run(sys.executable, "bench/bench_lxc.py")
    session.run(sys.executable, "bench/bench_qemu.py")


_DRIVERS_LOAD = """
import sys
from pyvirt.plugin.registry import list_drivers

name = sys.argv[1]
mine = [d for d in list_drivers() if d.distribution == name]
for d in mine:
    print(f"  {d.kind} {d.name}: contract {d.contract}, {d.status}")
if not mine or any(d.status != "ok" for d in mine):
    sys.exit(f"{name}: installed alone with the core, its drivers do not all load")
"""


@nox.session
def distributions(session: nox.Session) -> None:
    """Each distribution built (wheel and sdist) and installed alone with the core in a fresh virtualenv.

    What a packager and an operator installing one plugin get: the wheel's
    dependencies resolve (``pip check``) and every driver it ships loads with
    status ``ok`` in ``pyvirsh drivers``. ``nox -s distributions --
    plugins/pyvirt-storage`` checks one; core/tests/plugin/test_distributions.py
    checks what the artifacts contain.
    """
    import shutil
    import tomllib

    chosen = session.posargs or DISTRIBUTIONS
    work = Path(session.create_tmp()).resolve() / "distributions"
    shutil.rmtree(work, ignore_errors=True)
    wheels, sdists = work / "wheels", work / "sdists"
    builder = work / "builder"
    session.run(sys.executable, "-m", "venv", str(builder))
    session.run(str(builder / "bin" / "python"), "-m", "pip", "install", "-q", "build", external=True)
    for dist in dict.fromkeys(["core", *chosen]):
        # build makes the sdist first and the wheel from the unpacked sdist, so a file the sdist forgets fails here
        session.run(str(builder / "bin" / "python"), "-m", "build", "-q", "--outdir", str(wheels), dist, external=True)
    for dist in chosen:
        with open(Path(dist) / "pyproject.toml", "rb") as f:
            name = tomllib.load(f)["project"]["name"]
        wheel_of = {d: next(wheels.glob(f"{_wheel_name(d)}-*.whl")) for d in dict.fromkeys(["core", dist])}
        venv = work / f"venv-{name}"
        session.run(sys.executable, "-m", "venv", str(venv))
        python = str(venv / "bin" / "python")
        session.run(python, "-m", "pip", "install", "-q", *map(str, wheel_of.values()), external=True)
        session.run(python, "-m", "pip", "check", external=True)
        session.run(python, "-c", _DRIVERS_LOAD, name, external=True)
    sdists.mkdir(parents=True, exist_ok=True)
    for sdist in wheels.glob("*.tar.gz"):
        shutil.move(sdist, sdists / sdist.name)
    session.log(f"wheels in {wheels}, sdists in {sdists}")


def _wheel_name(dist: str) -> str:
    """The wheel file prefix of a distribution directory (``pyvirt``, ``pyvirt_qemu``)."""
    import tomllib

    with open(Path(dist) / "pyproject.toml", "rb") as f:
        return str(tomllib.load(f)["project"]["name"]).replace("-", "_")


@nox.session
def example(session: nox.Session) -> None:
    """The out-of-tree example driver, as its author ships it: built into a wheel, installed beside the
    core's wheel in a fresh virtualenv, and pyvirt.testing's contract suite run against it from outside
    the repository (so nothing is imported from the source tree)."""
    import shutil

    work = Path(session.create_tmp()).resolve() / "example"
    shutil.rmtree(work, ignore_errors=True)
    builder, wheels, venv = work / "builder", work / "wheels", work / "venv"
    session.run(sys.executable, "-m", "venv", str(builder))
    session.run(str(builder / "bin" / "python"), "-m", "pip", "install", "-q", "build", external=True)
    for dist in ("core", "examples/pyvirt-example"):
        session.run(str(builder / "bin" / "python"), "-m", "build", "-q", "--wheel", "--outdir", str(wheels), dist,
                    external=True)  # fmt: skip
    session.run(sys.executable, "-m", "venv", str(venv))
    python = str(venv / "bin" / "python")
    session.run(python, "-m", "pip", "install", "-q", *map(str, sorted(wheels.glob("*.whl"))), "pytest>=8",
                external=True)  # fmt: skip
    tests = work / "tests"
    shutil.copytree("examples/pyvirt-example/tests", tests)
    session.run(python, "-m", "pyvirt.cli.main", "drivers", external=True)
    session.chdir(str(work))
    session.run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests), external=True)


# Tests that exercise each third-party library a distribution declares, run by ``lowest``.
# Selection rule: for every (library, distribution) pair of a declared dependency, the cheapest tests that
# drive each module of that distribution importing the library through its calls of the library's API (the
# modules: ``grep -rlE '^\s*(import|from) LIB' */src``). Tests of behaviour that no floor version can change
# (DHCP leases, descriptor counts, source scans, wheel metadata) stay in ``tests`` only. A test named here
# that is renamed or removed fails the session ("not found"), so the list cannot go stale silently.
_LOWEST_TESTS = [
    # pluggy (plugin registry, facade, daemon state calls) and stevedore (entry-point discovery)
    "core/tests/plugin/test_hook_discovery.py",
    "core/tests/plugin/test_driver_contracts.py",  # pluggy's validation of hook implementations
    "core/tests/plugin/test_third_party_drivers.py",  # stevedore + pluggy on an installed third-party driver
    "core/tests/plugin/test_third_party_state.py",  # pluggy in pyvirt.daemon.state_calls
    "core/tests/plugin/test_entry_point_index.py",
    "core/tests/plugin/test_facade_forwarding.py",
    # pydantic (driver, daemon and qemu.conf configuration); pluggy in pyvirt.security.stack
    "core/tests/local_driver/test_driver_config.py",
    "core/tests/daemon/test_infrastructure.py",  # pyvirtd.conf; uvloop (the server's loop)
    "core/tests/daemon/test_pass_fds.py",  # uvloop: descriptors through pyvirtd's own local transport
    "core/tests/hosts/test_tls.py",  # uvloop's transports: TLS clients relayed onto the loop
    "plugins/pyvirt-qemu/tests/test_qemu_conf.py",  # qemu.conf, an out-of-tree security driver in the stack
    # lxml (core's XML models and CPU map; the ESX, Xen and LXC converters)
    "core/tests/conf/test_domain_values.py",
    "core/tests/util/test_lxml_import.py",
    "core/tests/util/test_cpu_x86.py",
    "plugins/pyvirt-esx/tests/test_vmx_conformance.py",
    "plugins/pyvirt-xen/tests/test_convert.py",
    "plugins/pyvirt-lxc/tests/test_lxcconf2xml.py",
    # python-prctl (capabilities across setuid, bounding set, securebits)
    "core/tests/util/test_caps.py",
    "core/tests/util/test_command.py",
    "core/tests/util/test_filecaps.py",
    "plugins/pyvirt-lxc/tests/test_containers.py::test_namespaces_capabilities_and_mounts",
    "plugins/pyvirt-lxc/tests/test_containers.py::test_capability_policies_and_unknown_names",
    "plugins/pyvirt-lxc/tests/test_containers.py::test_securebits_lock_keeps_exactly_the_allowed_capabilities",
    # qemu.qmp (the monitor), lxml (command line), prctl (capabilities probe, QEMU without capabilities)
    "plugins/pyvirt-qemu/tests/test_lifecycle.py",
    # pyroute2 (the network's bridge, QEMU's tap on it, LXC's veth pairs)
    "plugins/pyvirt-network/tests/test_networks.py::test_network_refusals_and_autostart",
    "plugins/pyvirt-network/tests/test_networks.py::test_qemu_nic_joins_the_network_bridge",
    "plugins/pyvirt-network/tests/test_networks.py::test_hostile_values_through_a_real_start",
    "plugins/pyvirt-lxc/tests/test_containers.py::test_veth_network_reaches_the_host_bridge",
    "plugins/pyvirt-lxc/tests/test_containers.py::test_ethernet_nic_with_host_side_addresses",
    # pyvmomi (the ESX driver against vcsim)
    "plugins/pyvirt-esx/tests/test_vsphere.py",
    "plugins/pyvirt-esx/tests/test_host_objects.py",
    "plugins/pyvirt-esx/tests/test_volume_copy_wipe.py",
]


def _lowest_pins(dist: str) -> list[str]:
    """``name==X`` for every ``name>=X`` dependency of a distribution (its declared minimum)."""
    import tomllib

    from packaging.requirements import Requirement

    with open(Path(dist) / "pyproject.toml", "rb") as f:
        deps = tomllib.load(f)["project"].get("dependencies", [])
    pins = []
    for text in deps:
        req = Requirement(text)
        if req.name == "pyvirt":
            continue
        floors = [s.version for s in req.specifier if s.operator == ">="]
        if not floors:
            raise SystemExit(f"{dist}: dependency '{text}' states no lower bound")
        pins.append(f"{req.name}=={floors[0]}")
    return pins


def _version_key(version: str) -> object:
    from packaging.version import Version

    return Version(version)


@nox.session
def lowest(session: nox.Session) -> None:
    """Every distribution with each dependency at the lowest version its metadata allows.

    Why: a lower bound nobody installs is a guess; a packager (Debian ships
    older pluggy and pydantic than the newest) trusts it. The editable
    installs come from this checkout, the dependencies are pinned to their
    floors (``pip check`` proves the set is consistent), and the tests that
    exercise each library run against those versions: ``_LOWEST_TESTS``, for
    each library and each distribution declaring it, the cheapest tests that
    drive every module of that distribution importing the library (not the
    whole suite: the floors change what those calls do, nothing else).
    """
    import shutil

    venv = Path(session.create_tmp()).resolve() / "lowest"
    shutil.rmtree(venv, ignore_errors=True)
    session.run(sys.executable, "-m", "venv", str(venv))
    python = str(venv / "bin" / "python")
    floors: dict[str, str] = {}
    for dist in DISTRIBUTIONS:  # one floor per library: the highest any distribution states
        for pin in _lowest_pins(dist):
            name, _, version = pin.partition("==")
            floors[name] = max(floors.get(name, version), version, key=_version_key)
    pins = [f"{name}=={version}" for name, version in sorted(floors.items())]
    session.log("pinned: " + " ".join(pins))
    session.run(python, "-m", "pip", "install", "-q", *pins, "pytest>=8", "setuptools>=68", "wheel", external=True)
    editable = [arg for dist in DISTRIBUTIONS for arg in ("-e", dist)]
    session.run(python, "-m", "pip", "install", "-q", "--no-deps", *editable, external=True)
    session.run(python, "-m", "pip", "check", external=True)
    # TMPDIR back to /tmp: create_tmp() pointed it into .nox/, and the tests' Unix socket paths would
    # outgrow AF_UNIX's 108 bytes there
    session.run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *_LOWEST_TESTS, *session.posargs,
                external=True, env={"TMPDIR": "/tmp"})  # fmt: skip


@nox.session
def docs(session: nox.Session) -> None:
    """The API reference (docs/api) with Sphinx: every warning and every unresolved reference is an error."""
    out = Path(session.create_tmp()).resolve() / "docs"
    # -E: read every source again; warnings of files a saved environment skips would go unreported
    session.run(sys.executable, "-m", "sphinx", "-b", "html", "-E", "-W", "-n", "--keep-going", "-q",
                "-d", str(out / "doctrees"), "docs/api", str(out / "html"), *session.posargs)  # fmt: skip
    session.log(f"API reference: {out / 'html' / 'index.html'}")
