"""pyvirt.flags: generated from libvirt 9.0's headers, and equal to the constants libvirt's own binding exports."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pyvirt import flags
from pyvirt.flaggen import generate_flags_module
from pyvirt.testing.sources import require

CORE = Path(__file__).resolve().parents[1]


def test_the_module_regenerates_byte_for_byte() -> None:
    text = generate_flags_module(require("libvirt"))
    assert (CORE / "src" / "pyvirt" / "flags.py").read_text() == text, "run tools/generate-flags"


def test_every_value_equals_libvirt_pythons_constant() -> None:
    """Debian's python3-libvirt (C bindings over libvirt 9.0) is the oracle for every name both define."""
    python3 = shutil.which("python3", path="/usr/bin")
    probe = "import json, libvirt; print(json.dumps({k: v for k, v in vars(libvirt).items() if k.startswith('VIR_')}))"
    p = subprocess.run([python3 or "python3", "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    if p.returncode != 0:
        pytest.skip(f"Debian's python3-libvirt is not importable: {p.stderr.strip()[-200:]}")
    theirs = json.loads(p.stdout)
    shared = [name for name in flags.BY_LIBVIRT_NAME if name in theirs]
    assert len(shared) >= 0.95 * len(flags.BY_LIBVIRT_NAME)
    assert {n: int(flags.BY_LIBVIRT_NAME[n]) for n in shared} == {n: theirs[n] for n in shared}


def test_flags_combine_and_accept_plain_ints() -> None:
    both = flags.DomainUndefineFlags.NVRAM | flags.DomainUndefineFlags.MANAGED_SAVE
    assert int(both) == 5 and flags.DomainUndefineFlags(5) == both
    assert flags.BY_LIBVIRT_NAME["VIR_DOMAIN_AFFECT_CONFIG"] is flags.DomainModificationImpact.CONFIG


def test_each_api_names_the_enum_its_flags_take() -> None:
    assert flags.API_FLAGS["virDomainUndefineFlags"] is flags.DomainUndefineFlags
    assert flags.API_FLAGS["virDomainGetXMLDesc"] is flags.DomainXMLFlags
    assert flags.API_FLAGS["virDomainSetVcpusFlags"] is flags.DomainVcpuFlags
    assert "virConnectGetHostname" not in flags.API_FLAGS  # no flags argument at all


def test_check_flags_refuses_bits_outside_an_enum_mask() -> None:
    """``~`` of an IntFlag keeps only the enum's own members (``~(LIVE | CONFIG)`` is 0): check_flags must not."""
    from pyvirt.errors import Error, ErrorCode
    from pyvirt.plugin.flags import check_flags

    allowed = flags.NetworkUpdateFlags.LIVE | flags.NetworkUpdateFlags.CONFIG
    check_flags(3, allowed, "networkUpdate")
    with pytest.raises(Error) as info:
        check_flags(4, allowed, "networkUpdate")
    assert (info.value.code, info.value.message) == (
        ErrorCode.INVALID_ARG,
        "unsupported flags (0x4) in function networkUpdate",
    )


def test_classes_are_built_when_first_read_and_once() -> None:
    """A short pyvirsh run reads a dozen of the classes: importing the module builds none, reading one builds it
    (once, whichever thread reads it first), and the tables build the rest."""
    probe = (
        "import sys, threading, pyvirt.flags as f\n"
        "lazy = sorted(f._BODIES)\n"
        "got = []\n"
        "ts = [threading.Thread(target=lambda: got.append(f.DomainXMLFlags)) for _ in range(8)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
        "assert len({id(c) for c in got}) == 1 and got[0].SECURE == 1, got\n"
        "from pyvirt.flags import DomainUndefineFlags\n"
        "left = len(f._BODIES)\n"
        "assert f.BY_LIBVIRT_NAME['VIR_DOMAIN_UNDEFINE_NVRAM'] is DomainUndefineFlags.NVRAM\n"
        "print(len(lazy), left, len(f._BODIES), 'DomainXMLFlags' in dir(f))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    total = len(flags.__all__) - 2
    assert out.stdout.split() == [str(total), str(total - 2), "0", "True"]
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchFlags'"):
        flags.NoSuchFlags  # noqa: B018


def test_importing_the_module_makes_no_class_and_reading_one_makes_that_one() -> None:
    """Every in-process run loads pyvirt.flags (the test driver names a few flags): its 86 class statements
    made 86 classes at import, 8 million instructions of a 110-million ``pyvirsh uri``; the members now
    wait in constant tables until a class is first read, and the class read is the class mypy sees."""
    probe = (
        "import gc, json, sys\n"
        "import pyvirt.util.int_enum\n"
        "def classes(): return sum(1 for o in gc.get_objects() if isinstance(o, type))\n"
        "before = classes()\n"
        "import pyvirt.flags as f\n"
        "at_import = classes() - before\n"
        "cls = f.DomainUndefineFlags\n"
        "print(json.dumps([at_import, classes() - before, cls.__name__, cls.__qualname__, cls.__module__,\n"
        "                  cls.__doc__, [m.name for m in cls], int(cls.KEEP_TPM), repr(cls.NVRAM | cls.MANAGED_SAVE)]))\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    at_import, after_one, name, qualname, module, doc, members, keep_tpm, combined = json.loads(run.stdout)
    assert at_import == 0
    assert after_one <= 2  # the class, and the plain body it is built from while that is still referenced
    assert (name, qualname, module) == ("DomainUndefineFlags", "DomainUndefineFlags", "pyvirt.flags")
    assert doc == "``virDomainUndefineFlagsValues`` (libvirt-domain.h)."  # the class statement's docstring
    assert members == [
        "MANAGED_SAVE",
        "SNAPSHOTS_METADATA",
        "NVRAM",
        "KEEP_NVRAM",
        "CHECKPOINTS_METADATA",
        "TPM",
        "KEEP_TPM",
    ]
    assert keep_tpm == 64
    assert combined == "<DomainUndefineFlags.MANAGED_SAVE|NVRAM: 5>"
