"""The cases of libvirt 9.0.0's ``qemuxml2xmltest.c`` and ``qemuxml2argvtest.c``, read from the C sources.

The lists are not copied by hand: every ``DO_TEST*`` invocation in ``mymain`` is
expanded the way the C preprocessor expands it (the macros' own definitions
are in those files), giving per case the input file, the expected output
files, the capabilities the test runs with (a ``caps_VER.ARCH.xml`` file of
``tests/qemucapabilitiesdata`` or libvirt's fake set: a few named
``QEMU_CAPS_*`` flags and the test's own machine list) and what is expected
(success, a parse error or a failure building the command line).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from pyvirt_qemu.emulator_caps import EmulatorCaps, Machine, from_libvirt_cache, strip_machine_aliases

__all__ = [
    "QemuCase",
    "argv_cases",
    "argv_paths",
    "caps_for",
    "case_environment",
    "case_settings",
    "flag_names",
    "xml2xml_cases",
    "xml2xml_paths",
]

# tests/testutilsqemu.c: the machines libvirt's fake capabilities give each architecture (the first is the default)
FAKE_MACHINES = {
    "i686": ["pc"],
    "x86_64": ["pc", "q35"],
    "aarch64": ["virt", "virt-2.6", "versatilepb"],
    "armv7l": ["vexpress-a9", "virt"],
    "ppc64": ["pseries"],
    "ppc": ["ppce500"],
    "riscv32": ["virt"],
    "riscv64": ["virt"],
    "s390x": ["s390-ccw-virtio"],
    "sparc": ["SS-5"],
}
# tests/testutilsqemu.c's qemu_emulators: the binary each architecture's capabilities are cached under
FAKE_EMULATORS = {
    "/usr/bin/qemu-system-i386": "i686",
    "/usr/bin/qemu-system-x86_64": "x86_64",
    "/usr/bin/qemu-system-aarch64": "aarch64",
    "/usr/bin/qemu-system-arm": "armv7l",
    "/usr/bin/qemu-system-ppc64": "ppc64",
    "/usr/bin/qemu-system-ppc": "ppc",
    "/usr/bin/qemu-system-riscv32": "riscv32",
    "/usr/bin/qemu-system-riscv64": "riscv64",
    "/usr/bin/qemu-system-s390x": "s390x",
    "/usr/bin/qemu-system-sparc": "sparc",
}
# virQEMUCapsInitQMPBasicArch, which both test programs apply to their fake capabilities
BASIC_ARCH_FLAGS = {
    "i686": ["no-acpi", "no-hpet"],
    "x86_64": ["no-acpi", "no-hpet"],
    "aarch64": ["no-acpi", "aarch64-off", "gic-version"],
    "s390x": ["aes-key-wrap", "dea-key-wrap", "loadparm"],
}
LATEST_ARCHS = ("aarch64", "ppc64", "riscv64", "s390x", "x86_64")


@dataclass(frozen=True)
class QemuCase:
    """One run of libvirt's test program: ``name`` plus the suffix naming its caps (``.x86_64-latest``)."""

    name: str
    suffix: str  # "" for the fake capabilities, ".ARCH-VER" for a caps file
    caps_arch: str | None
    caps_ver: str | None
    fake_flags: tuple[str, ...] = ()  # QEMU_CAPS_* names, lower-cased and dashed as the cache spells them
    active: bool = False  # xml2xml: the live (active) format, else inactive
    expect_parse_error: bool = False
    expect_failure: bool = False
    parse_flags: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    skip_legacy_cpus: bool = False  # FLAG_SKIP_LEGACY_CPUS: the fake caps offer only the newer x86 CPU models

    @property
    def label(self) -> str:
        return self.name + self.suffix + ("" if not self.active else " (active)")

    @property
    def caps_label(self) -> str:
        return f"{self.caps_arch}-{self.caps_ver}" if self.caps_arch else "fake caps"


def _calls(text: str) -> list[tuple[str, list[str]]]:
    """Each ``DO_TEST*(...)`` statement of ``mymain``, with its top-level arguments."""
    body = text[text.index("mymain(void)") :]
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    body = re.sub(r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", "", body, flags=re.M)  # preprocessor lines, continued or not
    out: list[tuple[str, list[str]]] = []
    for m in re.finditer(r"\b(DO_TEST[A-Z0-9_]*)\s*\(", body):
        depth, i, start, args = 1, m.end(), m.end(), []
        while depth:
            ch = body[i]
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            elif ch == "," and depth == 1:
                args.append(body[start:i].strip())
                start = i + 1
            elif ch == '"':
                i = body.index('"', i + 1)
            i += 1
        args.append(body[start : i - 1].strip())
        out.append((m.group(1), args))
    return out


def _unquote(arg: str) -> str:
    """A C string argument, adjacent literals joined ("." "x86_64" "-" "latest")."""
    return "".join(re.findall(r'"([^"]*)"', arg))


def flag_names(src: Path) -> dict[str, str]:
    """libvirt's QEMU_CAPS_* constants -> the names its capabilities cache uses (``qemu-xhci``), from the
    VIR_ENUM_IMPL table of src/qemu/qemu_capabilities.c, where each string is commented with its constant."""
    text = (src / "src" / "qemu" / "qemu_capabilities.c").read_text()
    return {m.group(2): m.group(1) for m in re.finditer(r'"([^"]+)",\s*/\*\s*(?:X_)?(QEMU_CAPS_\w+)\s*\*/', text)}


def _flag_name(const: str) -> str:
    """The constant as written; ``caps_for`` translates it with ``flag_names``."""
    return const


@dataclass
class _Args:
    arch: str | None = None
    ver: str | None = None
    flags: list[str] = field(default_factory=list)
    parse_error: bool = False
    failure: bool = False
    parse_flags: list[str] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)
    skip_legacy_cpus: bool = False


def _args(tokens: list[str]) -> _Args:
    """testQemuInfoSetArgs's ARG_* list."""
    a = _Args()
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok == "ARG_CAPS_ARCH":
            a.arch = _unquote(tokens[i + 1])
            i += 2
        elif tok == "ARG_CAPS_VER":
            a.ver = _unquote(tokens[i + 1])
            i += 2
        elif tok == "ARG_QEMU_CAPS":
            i += 1
            while i < len(tokens) and tokens[i] not in ("QEMU_CAPS_LAST", "ARG_END") and tokens[i] != "NONE":
                a.flags.append(_flag_name(tokens[i]))
                i += 1
            i += 1
        elif tok == "ARG_FLAGS":
            flags = tokens[i + 1]
            a.parse_error |= "FLAG_EXPECT_PARSE_ERROR" in flags
            a.failure |= "FLAG_EXPECT_FAILURE" in flags
            a.skip_legacy_cpus |= "FLAG_SKIP_LEGACY_CPUS" in flags
            i += 2
        elif tok == "ARG_PARSEFLAGS":
            a.parse_flags += [f.strip() for f in tokens[i + 1].split("|")]
            i += 2
        elif tok in ("ARG_END", "NONE", "QEMU_CAPS_LAST"):
            i += 1
        elif tok.startswith("ARG_"):
            a.extra[tok] = tokens[i + 1] if i + 1 < len(tokens) else ""
            i += 2
        else:
            i += 1
    return a


def _macros(text: str) -> dict[str, tuple[list[str], str]]:
    """The file's ``#define DO_TEST*(params) body`` definitions."""
    out: dict[str, tuple[list[str], str]] = {}
    for m in re.finditer(r"#\s*define\s+(DO_TEST[A-Z0-9_]*)\(([^)]*)\)((?:[^\n]*\\\n)*[^\n]*)", text):
        params = [p.strip() for p in m.group(2).split(",")]
        out[m.group(1)] = (params, m.group(3).replace("\\\n", " "))
    return out


def _expand(name: str, args: list[str], macros: dict[str, tuple[list[str], str]]) -> tuple[list[str], str]:
    """Expand macro calls down to DO_TEST_FULL; returns its arguments."""
    while name != "DO_TEST_FULL":
        params, body = macros[name]
        values: dict[str, list[str]] = {}
        for i, p in enumerate(params):
            if p == "...":
                values["__VA_ARGS__"] = args[i:]
            else:
                values[p] = [args[i]]
        inner = next(re.finditer(r"\b(DO_TEST[A-Z0-9_]*)\s*\(", body))
        calls = _calls("mymain(void)" + body[inner.start() :])
        called, raw = calls[0]
        new: list[str] = []
        for tok in raw:
            if tok in values:
                new += values[tok]
            else:
                # string pasting: "." arch "-" ver
                parts = re.findall(r'"[^"]*"|\w+', tok)
                if len(parts) > 1 and all(p.startswith('"') or p in values for p in parts):
                    new.append(" ".join(values[p][0] if p in values else p for p in parts))
                else:
                    new.append(tok)
        name, args = called, new
    return args, name


def _cases(test_file: Path, xml2xml: bool) -> list[QemuCase]:
    text = test_file.read_text()
    macros = _macros(text)
    cases: list[QemuCase] = []
    for macro, args in _calls(text):
        if macro not in macros:
            continue
        full, _ = _expand(macro, args, macros)
        name, suffix = _unquote(full[0]), _unquote(full[1])
        if xml2xml:
            when, rest = full[2], full[3:]
        else:
            when, rest = "WHEN_BOTH", full[2:]
        a = _args(rest)
        if a.ver == "latest" and not suffix:
            suffix = f".{a.arch}-latest"
        flags = tuple(a.flags)
        whens = [False, True] if when == "WHEN_BOTH" else [when == "WHEN_ACTIVE"]
        for active in whens if xml2xml else [False]:
            cases.append(QemuCase(name, suffix, a.arch, a.ver, flags, active, a.parse_error, a.failure,
                                  tuple(a.parse_flags), a.extra, a.skip_legacy_cpus))  # fmt: skip
    return cases


def xml2xml_cases(src: Path) -> list[QemuCase]:
    """qemuxml2xmltest's runs: each case inactive and/or active, as the test's WHEN_* says."""
    return _cases(src / "tests" / "qemuxml2xmltest.c", xml2xml=True)


def argv_cases(src: Path) -> list[QemuCase]:
    """qemuxml2argvtest's runs."""
    return _cases(src / "tests" / "qemuxml2argvtest.c", xml2xml=False)


def xml2xml_paths(src: Path, case: QemuCase) -> tuple[Path, Path]:
    """tests/qemuxml2xmltest.c's testInfoSetPaths: NAME-active/-inactive SUFFIX.xml when it exists."""
    tests = src / "tests"
    infile = tests / "qemuxml2argvdata" / f"{case.name}.xml"
    when = "active" if case.active else "inactive"
    out = tests / "qemuxml2xmloutdata" / f"{case.name}-{when}{case.suffix}.xml"
    if not out.exists():
        out = tests / "qemuxml2xmloutdata" / f"{case.name}{case.suffix}.xml"
    return infile, out


def argv_paths(src: Path, case: QemuCase) -> tuple[Path, Path, Path]:
    """tests/qemuxml2argvtest.c's testInfoSetPaths: the input, the .args and the .err file."""
    data = src / "tests" / "qemuxml2argvdata"
    return data / f"{case.name}.xml", data / f"{case.name}{case.suffix}.args", data / f"{case.name}{case.suffix}.err"


@cache
def _caps_file(path: Path) -> EmulatorCaps:
    # with the source tree's CPU map (src/cpu_map), which turns the file's <hostCPU> into libvirt's host-model CPU
    return from_libvirt_cache(path.read_bytes(), cpu_map_dir=str(path.parents[2] / "src" / "cpu_map"))


def _latest(src: Path, arch: str) -> Path:
    """testQemuGetLatestCapsForArch: the highest version of caps_VER.ARCH.xml."""
    files = (src / "tests" / "qemucapabilitiesdata").glob(f"caps_*.{arch}.xml")
    return max(files, key=lambda p: tuple(int(x) for x in p.name[5:].split(".")[:3]))


def caps_for(src: Path, case: QemuCase) -> EmulatorCaps:
    """The capabilities the case runs with (testQemuInfoInitArgs)."""
    if case.caps_arch and case.caps_ver:
        if case.caps_ver == "latest":
            caps = strip_machine_aliases(_caps_file(_latest(src, case.caps_arch)))
        else:
            caps = _caps_file(src / "tests" / "qemucapabilitiesdata" / f"caps_{case.caps_ver}.{case.caps_arch}.xml")
        return caps
    # qemuTestCapsCacheInsert: without a caps file every emulator of the test's table gets the case's flags and
    # its architecture's fake machines, so the XML's <emulator> picks the architecture
    emulator = re.search(r"<emulator>\s*([^<\s]+)\s*</emulator>", argv_paths(src, case)[0].read_text())
    arch = FAKE_EMULATORS.get(emulator.group(1) if emulator else "", "x86_64")
    names = FAKE_MACHINES[arch]
    # testQemuCapsSetGIC: ARG_GIC names the versions offered, each both in the kernel and emulated
    gic = {"GIC_V2": ["2"], "GIC_V3": ["3"], "GIC_BOTH": ["3", "2"]}.get(case.extra.get("ARG_GIC", ""), [])
    models = [*FAKE_CPU_MODELS.get(arch, ()), *(() if case.skip_legacy_cpus else FAKE_LEGACY_CPU_MODELS.get(arch, ()))]
    return EmulatorCaps(path="", identity="libvirt-test-fake", version=0, version_text="0.0.0", kvm=True, arch=arch,
                        machines=[Machine(n, None, 255, i == 0, numa_mem_supported=True) for i, n in enumerate(names)],
                        cpu_models=models,
                        flags=[_flags(src).get(f, f) for f in case.fake_flags] + BASIC_ARCH_FLAGS.get(arch, []),
                        probed=False,
                        gic_kvm=gic, gic_tcg=gic)  # fmt: skip


# qemuxml2argvtest.c's testAddCPUModels: the CPU models its fake capabilities offer per architecture (the x86
# legacy ones unless the case says FLAG_SKIP_LEGACY_CPUS)
FAKE_CPU_MODELS = {
    "x86_64": ("Opteron_G3", "Opteron_G2", "Opteron_G1", "Nehalem", "Penryn", "Conroe", "Haswell-noTSX", "Haswell"),
    "aarch64": ("cortex-a9", "cortex-a8", "cortex-a57", "cortex-a53"),
    "ppc64": ("POWER8", "POWER7"),
    "s390x": ("z990", "zEC12", "z13"),
}
FAKE_CPU_MODELS["i686"] = FAKE_CPU_MODELS["x86_64"]
FAKE_CPU_MODELS["armv7l"] = FAKE_CPU_MODELS["aarch64"]
FAKE_LEGACY_CPU_MODELS = {
    arch: ("n270", "athlon", "pentium3", "pentium2", "pentium", "486", "coreduo", "kvm32", "qemu32", "kvm64",
           "core2duo", "phenom", "qemu64")
    for arch in ("x86_64", "i686")
}  # fmt: skip


@cache
def _flags(src: Path) -> dict[str, str]:
    return flag_names(src)


# the environment and qemu.conf switches qemuxml2xmltest.c/qemuxml2argvtest.c set around a few cases
_AUDIO_CASES = {"audio-default-sdl": ({"QEMU_AUDIO_DRV": "sdl", "SDL_AUDIODRIVER": "esd"}, False),
                "audio-default-vnc": ({"QEMU_AUDIO_DRV": "alsa"}, True),
                "audio-default-nographics": ({"QEMU_AUDIO_DRV": "alsa"}, False)}  # fmt: skip
# qemuxml2xmltest.c's driver.config->nogfxAllowHostAudio = true around these cases
_NOGFX_HOST_AUDIO = frozenset({"audio-default-nographics"})


def nographics_host_audio(case: QemuCase) -> bool:
    """qemu.conf's nographics_allow_host_audio as the libvirt test program sets it for the case."""
    return case.name in _NOGFX_HOST_AUDIO


def case_settings(case: QemuCase) -> tuple[dict[str, str], bool]:
    """(environment variables, qemu.conf's vnc_allow_host_audio) the libvirt test program runs the case with."""
    return _AUDIO_CASES.get(case.name, ({}, False))


@contextmanager
def case_environment(case: QemuCase) -> Iterator[bool]:
    """Run with the case's environment variables set (restored after); yields vnc_allow_host_audio."""
    env, vnc_host_audio = case_settings(case)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield vnc_host_audio
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
