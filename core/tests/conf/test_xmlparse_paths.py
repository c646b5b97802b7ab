"""pyvirt.conf.xmlparse's child paths give what lxml's ElementPath gives, without importing re.

The models and the test driver read children with ``find_one``/``find_all``/``find_text`` instead of lxml's
``find``/``findall``/``findtext``, whose first path in a process imports :mod:`re` and compiles a tokenizer
(about twenty million instructions on a short pyvirsh line). A different answer would be a silent parsing
bug, so every path shape they use is checked against lxml's own answer.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from lxml import etree

from pyvirt.conf.xmlparse import find_all, find_one, find_text

QNS = "http://libvirt.org/schemas/domain/qemu/1.0"
DOC = etree.fromstring(
    f"<domain xmlns:qemu='{QNS}'><name>n</name><devices><disk type='file'><source file='/a'/></disk>"
    "<disk type='block'><source dev='/b'/><target dev='vdb'/></disk><hub type='usb'/><hub type='x'/></devices>"
    "<cpu><numa><cell id='0'/><cell id='1'/></numa></cpu><vcpu/><memory>1<!-- c --></memory>"
    f"<qemu:commandline><qemu:arg value='-a'/><qemu:arg value='-b'/><qemu:env name='E'/></qemu:commandline>"
    "<x:other xmlns:x='urn:x'><name>namespaced</name></x:other></domain>"
)
PATHS = [
    "name", "devices/disk", "devices/disk/source", "devices/disk/target", "devices/hub[@type='usb']",
    'devices/hub[@type="x"]', "devices/hub[@type='none']", "cpu/numa/cell", "vcpu", "memory", "missing",
    "missing/deeper", f"{{{QNS}}}commandline/{{{QNS}}}arg", f"{{{QNS}}}commandline/{{{QNS}}}env", "{urn:x}other/name",
]  # fmt: skip


@pytest.mark.parametrize("path", PATHS)
def test_each_path_finds_what_lxml_finds(path: str) -> None:
    assert find_all(DOC, path) == DOC.findall(path)
    assert find_one(DOC, path) == DOC.find(path)
    assert find_text(DOC, path) == DOC.findtext(path)
    assert find_text(DOC, path, "default") == DOC.findtext(path, "default")


@pytest.mark.parametrize("path", [".//disk", "devices/*", "devices/disk[1]", "../name", "devices//source", ""])
def test_a_path_beyond_child_steps_is_refused_rather_than_answered_differently(path: str) -> None:
    with pytest.raises(ValueError, match="unsupported path step"):
        find_all(DOC, path)


def test_reading_children_imports_no_re() -> None:
    code = (
        "import sys\n"
        "from pyvirt.util import lxml_import\n"
        "lxml_import.install()\n"  # as pyvirsh does: lxml's own init then loads no re either
        "from lxml import etree\n"
        "from pyvirt.conf.xmlparse import find_all, find_one, find_text\n"
        "doc = etree.fromstring(b'<a><b><c>t</c></b><b x=\"1\"/></a>')\n"  # bytes: str input is matched against a pattern
        "found = [len(find_all(doc, 'b')), find_text(doc, 'b/c'), find_one(doc, \"b[@x='1']\").get('x')]\n"
        "loaded = 're' in sys.modules\n"
        "import json\n"
        "print(json.dumps([found, loaded]))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(run.stdout) == [[2, "t", "1"], False]
    # and the same with lxml's find does load it: the check above can tell
    lxml_find = code.replace("find_one(doc, \"b[@x='1']\")", "doc.find(\"b[@x='1']\")")
    run = subprocess.run([sys.executable, "-c", lxml_find], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(run.stdout) == [[2, "t", "1"], True]
