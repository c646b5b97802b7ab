"""libvirt 9.0.0's storagevolxml2argvtest through pyvirt-storage's qemu-img command builder.

``python plugins/pyvirt-storage/tests/conformance_storagevolxml2argv.py`` (run
by ``nox -s conformance``) runs each ``DO_TEST``/``DO_TEST_FAIL`` line of
``tests/storagevolxml2argvtest.c`` as that program does: the pool and volume
XML are parsed (an input volume with VIR_VOL_XML_PARSE_NO_CAPACITY), the
volume type is set from the pool type (testSetVolumeType), the command is
built with ``qemu-img`` and libvirt's fake secret paths (twice, create then
convert, when an input volume is encrypted or an encrypted volume is built
from one), written as virCommandToString writes it with line breaks and
compared byte for byte with the ``.argv`` file. A ``DO_TEST_FAIL`` case passes
when no command is built. ``test_storagevolxml2argv.py`` holds the floor.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from pyvirt_storage.qemu_img import PREALLOC_METADATA, ConvertStep, create_command

from pyvirt.conf import storage
from pyvirt.errors import Error
from pyvirt.testing.corpus import Outcome, run_corpora

_SHELL_SPECIAL = set("\r\t\n !\"#$&'()*;<>?[\\]^`{|}~")


@dataclass(frozen=True)
class Case:
    should_fail: bool
    parse_flags: int
    pool: str
    vol: str
    inputpool: str | None
    inputvol: str | None
    cmdline: str
    flags: int


def cases(src: Path) -> list[Case]:
    """The DO_TEST, DO_TEST_FAIL and DO_TEST_FULL lines of storagevolxml2argvtest.c, in order."""
    body = (src / "tests" / "storagevolxml2argvtest.c").read_text().split("mymain(void)", 1)[1]
    out = []
    for macro, args in re.findall(r'^ *DO_TEST(_FAIL|_FULL)?\(((?:"|true,|false,)[^;\\()]*?)\);', body, re.M):
        words = [w.strip() for w in args.replace("\n", " ").split(",")]
        if macro == "_FULL":
            should_fail, parse_flags, words = words[0] == "true", words[1], words[2:]
        else:
            should_fail, parse_flags = macro == "_FAIL", "0"
        if len(words) != 6:
            raise ValueError(f"unexpected test line: DO_TEST{macro}({args})")
        pool, vol, inpool, invol, cmdline, flags = (w.strip('"') for w in words)
        out.append(Case(should_fail, storage.VOL_PARSE_OPT_CAPACITY if "OPT_CAPACITY" in parse_flags else 0,
                        pool, vol, None if inpool == "NULL" else inpool, None if invol == "NULL" else invol,
                        cmdline, PREALLOC_METADATA if flags == "flags" else 0))  # fmt: skip
    return out


def _shell(word: str) -> str:
    """virBufferEscapeShell."""
    if not word:
        return "''"
    if not any(c in _SHELL_SPECIAL for c in word):
        return word
    return "'" + word.replace("'", "'\\''") + "'"


def command_to_string(argv: list[str]) -> str:
    """virCommandToString(cmd, linebreaks=true): an option and its value stay on one line."""
    out = _shell(argv[0])
    had_option = False
    for i in range(1, len(argv)):
        out += " "
        linebreak = True
        if not argv[i].startswith("-"):
            if had_option and any(a.startswith("-") for a in argv[i - 1 :]):
                linebreak = False
        else:
            had_option = True
        if linebreak:
            out += "\\\n"
        out += _shell(argv[i])
    return out


def _set_volume_type(vol: storage.Volume, pool_type: str | None) -> None:
    """testSetVolumeType: what createVol sets."""
    if pool_type in ("dir", "fs", "netfs"):
        vol.type = "file"
    elif pool_type == "logical":
        vol.type = "block"


def build(src: Path, case: Case) -> str:
    tests = src / "tests"
    pool = storage.parse_pool((tests / "storagepoolxml2xmlin" / f"{case.pool}.xml").read_bytes())
    inputpool = (
        storage.parse_pool((tests / "storagepoolxml2xmlin" / f"{case.inputpool}.xml").read_bytes())
        if case.inputpool
        else None
    )
    parse_flags = case.parse_flags | (storage.VOL_PARSE_NO_CAPACITY if case.inputvol else 0)
    vol = storage.parse_volume((tests / "storagevolxml2xmlin" / f"{case.vol}.xml").read_bytes(), pool.type,
                               parse_flags)  # fmt: skip
    inputvol = None
    if case.inputvol:
        inputvol = storage.parse_volume((tests / "storagevolxml2xmlin" / f"{case.inputvol}.xml").read_bytes(),
                                        inputpool.type if inputpool else None)  # fmt: skip
    _set_volume_type(vol, pool.type)
    if inputvol is not None:
        _set_volume_type(inputvol, inputpool.type if inputpool else None)
    encrypting = inputvol is not None and bool(
        (vol.target and vol.target.encryption) or (inputvol.target and inputvol.target.encryption)
    )
    step = ConvertStep.CREATE if encrypting else ConvertStep.NONE
    text = ""
    while step != ConvertStep.DONE:
        argv = create_command(pool.target.path if pool.target else None, vol, inputvol, case.flags, "qemu-img",
                              "/path/to/secretFile", "/path/to/inputSecretFile", step)  # fmt: skip
        line = command_to_string(argv)
        text = f"{text}\n{line}" if step == ConvertStep.CONVERT else line
        step = {ConvertStep.NONE: ConvertStep.DONE, ConvertStep.CREATE: ConvertStep.CONVERT}.get(step, ConvertStep.DONE)
    return text


def run_case(src: Path, case: Case) -> Outcome:
    try:
        actual = build(src, case)
    except Error as exc:
        if case.should_fail:
            return Outcome(case.cmdline, True)
        return Outcome(case.cmdline, False, f"rejected: {exc.message.splitlines()[0]}")
    if case.should_fail:
        return Outcome(case.cmdline, False, "built a command libvirt refuses")
    expected = (src / "tests" / "storagevolxml2argvdata" / f"{case.cmdline}.argv").read_text()
    if not actual.endswith("\n") and expected.endswith("\n"):
        actual += "\n"  # virTestCompareToFileFull adds the file's final newline
    return Outcome(case.cmdline, actual == expected, "" if actual == expected else "command line differs")


def run_all(src: Path) -> list[Outcome]:
    return [run_case(src, case) for case in cases(src)]


def main() -> int:
    return run_corpora({"storagevolxml2argv (qemu-img command lines)": run_all})


if __name__ == "__main__":
    sys.exit(main())
