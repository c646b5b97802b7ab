"""save-image-dumpxml/-define/-edit and managedsave-dumpxml/-define/-edit beside Debian's virsh 9.0.

libvirt 9.0's test driver implements the save-image pair (testDomainSaveImageGetXMLDesc,
testDomainSaveImageDefineXML: the image read as a restore reads it, the new XML parsed and
written in its place) and not the managed-save pair, so on test:/// both tools must print the
same for both, byte for byte, directly, read-only and through a daemon. Debian's virsh may hang
on its own in save on test:/// (virsh_compare's try_timeouts): its runs are retried.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from virsh_compare import PYVIRSH, SKIP_WITHOUT_VIRSH, VIRSH, try_timeouts

import pyvirt
from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.errors import Error, ErrorCode

needs_virsh = pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)
_MAGIC = b"TestGuestMagic\0"


def _fixtures(where: Path) -> None:
    """The files the lines name: XML for define (a new description, another guest), images good and bad."""
    with pyvirt.open("test:///default") as conn:
        xml = conn.lookup_domain_by_name("test").xml_desc(2)  # INACTIVE: what a define takes
        conn.lookup_domain_by_name("test").save(str(where / "saved.img"))
    described = xml.replace("</name>", "</name>\n  <description>changed</description>", 1)
    (where / "desc.xml").write_text(described)
    (where / "other.xml").write_text(described.replace("<name>test</name>", "<name>other</name>"))
    (where / "notxml.xml").write_text("not xml\n")
    (where / "bad.img").write_text("notimage\n")  # shorter than the magic
    (where / "zero.img").write_bytes(bytes(20))
    (where / "magiconly.img").write_bytes(_MAGIC)
    (where / "trunc.img").write_bytes(_MAGIC + (5).to_bytes(4, "little") + b"<dom")
    (where / "huge.img").write_bytes(_MAGIC + (8193).to_bytes(4, "little") + b"x" * 8193)
    (where / "negative.img").write_bytes(_MAGIC + (-1).to_bytes(4, "little", signed=True))
    editor = where / "editor.sh"  # the edit commands' $EDITOR: one vCPU of two at the restore
    editor.write_text(
        "#!/bin/sh\nsed -i \"s|<vcpu placement=.static.>2|<vcpu placement='static' current='1'>2|\" \"$1\"\n"
    )
    editor.chmod(0o755)


def _run(argv: list[str], line: str, cwd: Path, uri: str = "test:///default",
         extra: list[str] | None = None) -> tuple[str, str, int]:  # fmt: skip
    env = dict(os.environ, LC_ALL="C", EDITOR=str(cwd / "editor.sh"))
    env.pop("VISUAL", None)
    for timeout in try_timeouts(argv[0]):
        try:
            done = subprocess.run([*argv, *(extra or []), "-c", uri, line], capture_output=True, text=True,
                                  timeout=timeout, cwd=cwd, env=env, stdin=subprocess.DEVNULL, check=False)  # fmt: skip
        except subprocess.TimeoutExpired:
            continue
        return done.stdout.replace(str(cwd), "DIR"), done.stderr.replace(str(cwd), "DIR"), done.returncode
    raise AssertionError(f"{argv[0]} never ended: {line}")


def _both(tmp_path: Path, line: str, extra: list[str] | None = None) -> list[tuple[str, str, int]]:
    assert VIRSH is not None
    (tmp_path / "fixtures").mkdir()
    _fixtures(tmp_path / "fixtures")
    seen = []
    for name, argv in (("virsh", [VIRSH]), ("pyvirsh", PYVIRSH)):
        shutil.copytree(tmp_path / "fixtures", tmp_path / name)
        seen.append(_run(argv, line, tmp_path / name, extra=extra))
    return seen


@needs_virsh
@pytest.mark.parametrize(
    "line",
    [
        # a new description: dumpxml shows it, the restore brings it back
        "save-image-dumpxml saved.img; save-image-define saved.img desc.xml; save-image-dumpxml saved.img; "
        "restore saved.img; dumpxml test",
        # another guest's XML is taken (libvirt's test driver compares neither name nor UUID), --xpath, --wrap
        "save-image-define saved.img other.xml --paused; save-image-dumpxml saved.img --xpath //name --wrap; "
        "restore saved.img; list --all",
        "save-image-dumpxml --security-info saved.img --xpath //description",
        # files that are not images, in testDomainSaveImageOpen's words, for all three readers
        "save-image-dumpxml bad.img; save-image-dumpxml zero.img; save-image-dumpxml magiconly.img; "
        "save-image-dumpxml trunc.img; save-image-dumpxml huge.img; save-image-dumpxml negative.img; "
        "save-image-dumpxml nosuch.img",
        "restore bad.img; restore zero.img; restore magiconly.img; restore trunc.img; restore huge.img; "
        "restore negative.img",
        "save-image-define bad.img desc.xml; save-image-define nosuch.img desc.xml; "
        "save-image-define saved.img nosuch.xml; save-image-define saved.img notxml.xml; save-image-dumpxml saved.img",
        # the library refuses both states; the edit commands refuse them first, as virsh
        "save-image-define saved.img desc.xml --running --paused; save-image-edit saved.img --running --paused",
        # the editor's change, applied, restored
        "save-image-edit saved.img; save-image-dumpxml saved.img --xpath //vcpu; restore saved.img; vcpucount test",
        "save-image-edit nosuch.img",
        # libvirt's test driver has no managed-save XML: NO_SUPPORT, after virsh's own checks
        "managedsave test; managedsave-dumpxml test; managedsave-define test desc.xml; managedsave-edit test; "
        "managedsave-define test desc.xml --running --paused; managedsave-define test nosuch.xml; "
        "managedsave-dumpxml nosuch",
    ],
)
def test_like_virsh(line: str, tmp_path: Path) -> None:
    virsh, pyvirsh = _both(tmp_path, line)
    assert pyvirsh == virsh


@needs_virsh
def test_read_only_like_virsh(tmp_path: Path) -> None:
    """virDomainSaveImageGetXMLDesc needs read-write in libvirt 9.0; the managed image's only with the secure flag."""
    line = ("save-image-dumpxml saved.img; save-image-define saved.img desc.xml; managedsave-dumpxml test; "
            "managedsave-dumpxml test --security-info; managedsave-define test desc.xml")  # fmt: skip
    virsh, pyvirsh = _both(tmp_path, line, extra=["-r"])
    assert pyvirsh == virsh
    assert "read only access prevents virDomainSaveImageGetXMLDesc" in virsh[1]


@needs_virsh
def test_help_is_virshs() -> None:
    assert VIRSH is not None
    names = ["save-image-dumpxml", "save-image-define", "save-image-edit", "managedsave-dumpxml",
             "managedsave-define", "managedsave-edit"]  # fmt: skip
    line = "; ".join(f"help {name}" for name in names)
    env = dict(os.environ, LC_ALL="C")
    expected = subprocess.run([VIRSH, line], capture_output=True, text=True, env=env, check=False, timeout=60)
    got = subprocess.run([*PYVIRSH, line], capture_output=True, text=True, env=env, check=False, timeout=60)
    assert (got.stdout, got.stderr, got.returncode) == (expected.stdout, expected.stderr, expected.returncode)


@needs_virsh
def test_through_pyvirtd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Debian's virsh and pyvirsh through pyvirtd print what virsh prints on test:/// directly; a relative
    image name is the client's file, not one in the daemon's directory."""
    assert VIRSH is not None
    line = ("save-image-define saved.img desc.xml; save-image-dumpxml saved.img --xpath //description; "
            "save-image-dumpxml bad.img; restore saved.img; dumpxml test --xpath //description; "
            "managedsave-dumpxml test")  # fmt: skip
    (tmp_path / "fixtures").mkdir()
    _fixtures(tmp_path / "fixtures")
    shutil.copytree(tmp_path / "fixtures", tmp_path / "direct")
    expected = _run([VIRSH], line, tmp_path / "direct")
    assert "<description>changed</description>" in expected[0]
    (tmp_path / "daemon-cwd").mkdir()
    monkeypatch.chdir(tmp_path / "daemon-cwd")
    with PrivateDaemon(tmp_path / "d") as daemon:
        for argv, name in (([VIRSH], "virsh"), (PYVIRSH, "pyvirsh")):
            shutil.copytree(tmp_path / "fixtures", tmp_path / name)
            assert _run(argv, line, tmp_path / name, uri=daemon.uri()) == expected
    assert not list((tmp_path / "daemon-cwd").iterdir())


def test_library_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The public API: the path is the caller's, both states refused, the read-only rules, NO_SUPPORT."""
    monkeypatch.chdir(tmp_path)
    _fixtures(tmp_path)
    with pyvirt.open("test:///default") as conn:
        assert "<name>test</name>" in conn.save_image_xml_desc("sub/../saved.img")
        new = (tmp_path / "desc.xml").read_text()
        with pytest.raises(Error) as info:
            conn.save_image_define_xml("saved.img", new, 2 | 4)
        assert info.value.code == ErrorCode.INVALID_ARG
        assert "Flags 'VIR_DOMAIN_SAVE_RUNNING' and 'VIR_DOMAIN_SAVE_PAUSED' are mutually exclusive" in str(info.value)
        with pytest.raises(Error) as info:
            conn.save_image_xml_desc("saved.img", 2)  # testDomainSaveImageGetXMLDesc takes SECURE only
        assert info.value.code == ErrorCode.INVALID_ARG
        conn.save_image_define_xml("saved.img", new, 4)
        assert "<description>changed</description>" in conn.save_image_xml_desc("saved.img", 1)
        dom = conn.lookup_domain_by_name("test")
        with pytest.raises(Error) as info:
            dom.managed_save_xml_desc()
        assert info.value.code == ErrorCode.NO_SUPPORT
        with pytest.raises(Error) as info:
            dom.managed_save_define_xml(None, 2 | 4)  # libvirt checks the flags before anything else
        assert info.value.code == ErrorCode.INVALID_ARG
    with pyvirt.open_readonly("test:///default") as ro:
        with pytest.raises(Error) as info:
            ro.save_image_xml_desc("saved.img")
        assert info.value.code == ErrorCode.OPERATION_DENIED
        dom = ro.lookup_domain_by_name("test")
        with pytest.raises(Error) as info:
            dom.managed_save_xml_desc(1)
        assert info.value.code == ErrorCode.OPERATION_DENIED
        assert "virDomainManagedSaveGetXMLDesc with secure flag" in str(info.value)
        with pytest.raises(Error) as info:
            dom.managed_save_xml_desc()
        assert info.value.code == ErrorCode.NO_SUPPORT  # allowed read-only without the flag; the driver lacks it
