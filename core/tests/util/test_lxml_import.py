"""pyvirsh imports lxml.etree without the inspect and gzip modules lxml loads at init; a library user's process
is untouched.

Each story runs in a fresh interpreter: what is checked is which modules a
process ends up with, which an in-process test would have loaded already.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import lxml

PYVIRSH = str(Path(sys.executable).with_name("pyvirsh"))


# lxml 6's init binds only inspect.getfullargspec; lxml 5.0's (the lowest version core allows) also reads
# inspect.isgenerator, which the stand-in answers from the real module: correct, but inspect is loaded then,
# so the saving itself is only checked on lxml 6 (the other checks run on every version).
SAVES_INSPECT = int(lxml.__version__.split(".")[0]) >= 6
# lxml 6 builds etree.ElementTree as a class on typing.Generic (the stand-in for typing must serve it); lxml 5.0
# has a plain factory function there
ELEMENT_TREE_IS_A_CLASS = SAVES_INSPECT
# lxml's init loads lxml._elementpath; lxml 5.0's imports re (and enum through it) at its top, lxml 6's only
# when a path is compiled, so keeping re out of lxml's init is a saving on lxml 6 only
INIT_SPARES_RE = SAVES_INSPECT


def _probe(code: str) -> Any:
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(run.stdout)


def _imported(stderr: str) -> set[str]:
    """Module names from ``-X importtime`` lines (``import time: self | cumulative | name``)."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def test_pyvirsh_dumpxml_reads_and_writes_xml_without_loading_inspect_or_gzip() -> None:
    """The console script, as a user runs it: the domain XML comes out, lxml did the work, and neither
    inspect nor gzip (nor what they bring) was loaded.

    A first run in a new environment builds pyvirt's entry-point index through
    ``importlib.metadata``, which loads ``zipfile`` and so zlib: that is the
    index's one-off cost, not lxml's, so one warm-up run comes first (the
    fresh-clone CI's ``lowest`` venv is new on every run and failed here).
    """
    warm = [PYVIRSH, "-c", "test:///default", "uri"]
    subprocess.run(warm, capture_output=True, timeout=60, check=True)
    run = subprocess.run(
        [sys.executable, "-X", "importtime", PYVIRSH, "-c", "test:///default", "dumpxml test"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert run.stdout.startswith("<domain type='test' id='1'>\n  <name>test</name>\n")
    imported = _imported(run.stderr)
    assert "lxml.etree" in imported
    if SAVES_INSPECT:
        assert "inspect" not in imported, "pyvirsh paid for inspect (ast, dis, tokenize) at lxml's init again"
    assert not imported & {"gzip", "zlib", "_compression"}, "pyvirsh paid for gzip at lxml's init again"
    assert "typing" not in imported, "pyvirsh paid for typing (12 million instructions) at lxml's init again"


def test_through_the_hook_lxml_works_and_a_later_import_of_inspect_is_the_real_module() -> None:
    out = _probe(
        "import json, sys\n"
        "from pyvirt.util import lxml_import\n"
        "lxml_import.install()\n"
        "from lxml import etree\n"
        "after_import = ['inspect' in sys.modules, [type(f).__name__ for f in sys.meta_path]]\n"
        "loaders = [type(etree.__loader__).__name__, type(etree.__spec__.loader).__name__]\n"
        "text = etree.tostring(etree.fromstring('<a x=\"1\"><b/></a>')).decode()\n"
        "still_out = 'inspect' in sys.modules\n"
        "import inspect\n"
        "real = [inspect.__file__.endswith('inspect.py'), inspect.getfullargspec is not lxml_import._getfullargspec,\n"
        "        hasattr(inspect, '_pyvirt_stand_in'), sys.modules['inspect'] is inspect]\n"
        "print(json.dumps([after_import, loaders, text, still_out, real]))\n"
    )
    after_import, loaders, text, still_out, real = out
    assert after_import[0] is not SAVES_INSPECT
    assert "_Finder" not in after_import[1]  # the finder left sys.meta_path after its one import
    assert loaders == ["ExtensionFileLoader", "ExtensionFileLoader"]  # the real loader is back on module and spec
    assert text == '<a x="1"><b/></a>'
    assert still_out is not SAVES_INSPECT
    assert real == [True, True, False, True]


def test_without_typing_and_contextlib_lxml_s_element_tree_class_and_file_output_work(tmp_path: Path) -> None:
    """lxml's init builds its ``ElementTree`` factory class on ``typing.Generic[T]`` and wraps the opener of
    ``ElementTree.write``'s file in ``contextlib.contextmanager``; with the stand-ins, neither module is
    loaded, the class still makes trees, recognises them, and is subscriptable; ``write`` (plain and
    compressed) gives the same bytes; and a later import of either module is the real one."""
    plain, packed = tmp_path / "plain.xml", tmp_path / "packed.xml.gz"
    out = _probe(
        "import gzip, json, sys\n"  # gzip loaded already: only typing and contextlib are stood in for here
        "from pyvirt.util import lxml_import\n"
        "lxml_import.install()\n"
        "from lxml import etree\n"
        "after_import = sorted(m for m in ('typing', 'contextlib') if m in sys.modules)\n"
        "tree = etree.ElementTree(etree.fromstring('<a><b/></a>'))\n"
        # (lxml 5.0, the lowest core allows, makes ElementTree a plain function: nothing to subscript there)
        "made = ([isinstance(tree, etree.ElementTree), etree.ElementTree[str].__origin__ is etree.ElementTree]\n"
        "        if isinstance(etree.ElementTree, type) else None)\n"
        f"tree.write({str(plain)!r})\n"
        f"tree.write({str(packed)!r}, compression=6)\n"
        "import contextlib, typing\n"
        "real = [m.__file__.endswith(n + '.py') and not hasattr(m, '_pyvirt_stand_in') and sys.modules[n] is m\n"
        "        for n, m in (('typing', typing), ('contextlib', contextlib))]\n"
        "class Box(typing.Generic[typing.TypeVar('T')]): pass\n"
        "print(json.dumps([after_import, made, real, Box[int].__origin__ is Box]))\n"
    )
    after_import, made, real, box = out
    # lxml 5.0's init reads more of contextlib than the one name the stand-in serves (as it does of inspect):
    # answered by the real module, correct but without that saving, so the saving is checked on lxml 6
    assert "typing" not in after_import
    if SAVES_INSPECT:
        assert after_import == []
    assert made == ([True, True] if ELEMENT_TREE_IS_A_CLASS else None)
    assert real == [True, True] and box is True
    assert plain.read_bytes() == b"<a><b/></a>"
    assert gzip.decompress(packed.read_bytes()) == b"<a><b/></a>"


def test_lxml_s_regular_expressions_are_compiled_when_first_used_and_answer_as_before() -> None:
    """lxml's init keeps ten compiled patterns; through the stand-in none is compiled then (re's own cache of
    compiled patterns does not hold them), and each one lxml uses later answers as the real pattern does:
    reserved namespace prefixes, encoding declarations in text input, processing-instruction pseudo
    attributes, and the path tokenizer of ``find``."""
    out = _probe(
        "import sys\n"
        "from pyvirt.util import lxml_import\n"
        "lxml_import.install()\n"
        "before = 're' in sys.modules\n"
        "from lxml import etree\n"
        "import json, re\n"
        "cached = sorted(str(key[1]) for key in re._cache if 'w+:' in str(key[1]) or 'encoding' in str(key[1]))\n"
        "answers = []\n"
        "for call in (lambda: etree.register_namespace('ns0', 'urn:x'),\n"
        '             lambda: etree.fromstring(\'<?xml version="1.0" encoding="utf-8"?><a/>\')):\n'
        "    try:\n"
        "        call()\n"
        "    except ValueError as exc:\n"
        "        answers.append(str(exc))\n"
        "answers.append(etree.PI('xml-stylesheet', 'href=\"a.xsl\" type=\"text/xsl\"').get('type'))\n"
        "answers.append(etree.fromstring('<a><b x=\"1\"/><b x=\"2\"/></a>').find('b[@x=\"2\"]').get('x'))\n"
        "print(json.dumps([before, cached, answers]))\n"
    )
    assert out == [
        False,
        [],
        [
            "Prefix format reserved for internal use",
            "Unicode strings with encoding declaration are not supported. "
            "Please use bytes input or XML fragments without declaration.",
            "text/xsl",
            "2",
        ],
    ]


def test_lxml_initialises_without_re_and_reads_libxml2_s_version_as_the_real_match_does() -> None:
    """lxml's init reads libxml2's version number with ``re.match("[0-9]+", ...)``: the stand-in answers it
    without loading :mod:`re` (nor ``enum``), with the digits the real pattern matches; any other pattern is
    the real module's answer."""
    out = _probe(
        "import sys\n"
        "from pyvirt.util import lxml_import\n"
        "lxml_import.install()\n"
        "from lxml import etree\n"
        "after_init = sorted({'re', 'enum'} & set(sys.modules))\n"
        "import json, re\n"
        "ours = [lxml_import._match('[0-9]+', t) for t in ('21406', '2.9.14-x', 'x1', '')]\n"
        "real = [re.match('[0-9]+', t) for t in ('21406', '2.9.14-x', 'x1', '')]\n"
        "same = [(a is None and b is None) or (a.group() == b.group() == a.group(0) and a.span() == b.span())\n"
        "        for a, b in zip(ours, real)]\n"
        "other = lxml_import._match('(a)(b)', 'abc').groups()\n"
        "print(json.dumps([after_init, same, other, etree.fromstring('<a><b/></a>')[0].tag]))\n"
    )
    assert out == [[] if INIT_SPARES_RE else ["enum", "re"], [True, True, True, True], ["a", "b"], "b"]


def test_lxml_gets_the_very_objects_of_collections_functools_operator_and_types_without_loading_them() -> None:
    """The seven names lxml's init reads from those modules are answered with the same objects, taken from the
    modules loaded at start-up; the modules themselves are not loaded, and what lxml registered or built with
    them behaves as with the real ones."""
    out = _probe(
        "import sys\n"
        "from pyvirt.util import lxml_import\n"
        "lxml_import.install()\n"
        "from lxml import etree\n"
        "spared = sorted({'collections', 'collections.abc', 'functools', 'operator', 'types', 'keyword', 'reprlib'}\n"
        "                & set(sys.modules))\n"
        "import collections, collections.abc, functools, json, operator, types\n"
        "same = [lxml_import._HIDDEN['collections']['OrderedDict'] is collections.OrderedDict,\n"
        "        lxml_import._HIDDEN['collections.abc']['MutableMapping'] is collections.abc.MutableMapping,\n"
        "        lxml_import._HIDDEN['collections.abc']['Sequence'] is collections.abc.Sequence,\n"
        "        lxml_import._HIDDEN['functools']['partial'] is functools.partial,\n"
        "        lxml_import._HIDDEN['operator']['eq'] is operator.eq,\n"
        "        lxml_import._HIDDEN['operator']['itemgetter'] is operator.itemgetter,\n"
        "        lxml_import._HIDDEN['types']['GenericAlias'] is types.GenericAlias]\n"
        "root = etree.fromstring(b'<a x=\"1\"><b/><c/></a>')\n"
        "works = [isinstance(root.attrib, collections.abc.MutableMapping), dict(root.attrib), len(root),\n"
        "         [e.tag for e in root.iterchildren()]]\n"
        "print(json.dumps([spared, same, works]))\n"
    )
    spared, same, works = out
    assert same == [True] * 7
    assert works == [True, {"x": "1"}, 2, ["b", "c"]]
    if SAVES_INSPECT:  # lxml 6's init reads just those names (lxml 5.0 more: answered by the real modules)
        assert spared == []


def test_lxml_asks_the_stand_in_for_a_targets_signature_and_gets_the_real_answer() -> None:
    """lxml calls what it bound as ``inspect.getfullargspec`` to decide whether a parser target's ``start``
    takes ``nsmap``; given the stand-in's function, it must still see three arguments and pass a map (a wrong
    answer calls ``start(tag, attrib)`` and the parse fails on the missing argument)."""
    out = _probe(
        "import json, sys\n"
        "from pyvirt.util import lxml_import\n"
        "lxml_import.install()\n"
        "from lxml import etree\n"
        "seen = []\n"
        "class Target:\n"
        "    def start(self, tag, attrib, nsmap):\n"
        "        seen.append([tag, dict(attrib), hasattr(nsmap, 'items')])\n"
        "    def close(self):\n"
        "        return 'closed'\n"
        "before = 'inspect' in sys.modules\n"
        'result = etree.fromstring(\'<a xmlns="urn:x" k="v"/>\', etree.XMLParser(target=Target()))\n'
        "def f(a, b=1, *rest, c, **kw): pass\n"
        "via_stand_in = repr(lxml_import._getfullargspec(f))\n"
        "import inspect\n"
        "print(json.dumps([before, result, seen, via_stand_in == repr(inspect.getfullargspec(f))]))\n"
    )
    # a namespace map came as the third argument (lxml 6.2.0 passes an _ImmutableMapping, 6.2.1 a dict)
    assert out == [not SAVES_INSPECT, "closed", [["{urn:x}a", {"k": "v"}, True]], True]


def test_the_stand_in_answers_any_other_name_from_the_real_module() -> None:
    """Another thread importing inspect while lxml initialises gets the stand-in: every name it reads is
    the real one, and the real module then takes the stand-in's place. ``__path__`` (asked by every
    ``from inspect import ...``) is absent, as on the real module, without importing it."""
    out = _probe(
        "import json, sys\n"
        "from pyvirt.util import lxml_import\n"
        "stand_in = sys.modules['inspect'] = lxml_import._stand_in('inspect')\n"
        "from inspect import getfullargspec\n"
        "no_path = not hasattr(stand_in, '__path__') and sys.modules['inspect'] is stand_in\n"
        "signature = stand_in.signature\n"
        "real = sys.modules['inspect']\n"
        "print(json.dumps([no_path, getfullargspec is lxml_import._getfullargspec, real is not stand_in,\n"
        "                  signature is real.signature, real.__file__.endswith('inspect.py')]))\n"
    )
    assert out == [True, True, True, True, True]


def test_compressed_output_through_the_stand_in_is_real_gzip() -> None:
    """lxml writes ``compression=N`` output through what it bound as ``gzip.GzipFile``, in three places
    (a file-like target, text output, the incremental ``xmlfile``): each must give what the real gzip
    gives, and only then is gzip loaded."""
    out = _probe(
        "import io, json, sys\n"
        "from pyvirt.util import lxml_import\n"
        "lxml_import.install()\n"
        "from lxml import etree\n"
        "before = 'gzip' in sys.modules\n"
        "root = etree.fromstring('<a><b>text</b></a>')\n"
        "outputs = []\n"
        "for method in ('xml', 'text'):\n"
        "    buf = io.BytesIO()\n"
        "    etree.ElementTree(root).write(buf, method=method, compression=9)\n"
        "    outputs.append(buf.getvalue())\n"
        "buf = io.BytesIO()\n"
        "with etree.xmlfile(buf, compression=9) as xf:\n"
        "    xf.write(root)\n"
        "outputs.append(buf.getvalue())\n"
        "import gzip\n"
        "print(json.dumps([before, hasattr(gzip, '_pyvirt_stand_in'),\n"
        "                  [gzip.decompress(o).decode() for o in outputs], [o[:2].hex() for o in outputs]]))\n"
    )
    assert out == [False, False, ["<a><b>text</b></a>", "text", "<a><b>text</b></a>"], ["1f8b"] * 3]


def test_a_failing_module_init_leaves_neither_the_stand_in_nor_the_wrapped_loader() -> None:
    out = _probe(
        "import json, sys\n"
        "from importlib.machinery import ModuleSpec\n"
        "from pyvirt.util import lxml_import\n"
        "class Broken:\n"
        "    def create_module(self, spec):\n"
        "        return None\n"
        "    def exec_module(self, module):\n"
        "        raise ImportError('init failed while inspect is ' + type(sys.modules.get('inspect')).__name__)\n"
        "real = Broken()\n"
        "spec = ModuleSpec('lxml.etree', real)\n"
        "wrapped = spec.loader = lxml_import._Loader(real, spec)\n"
        "wrapped.create_module(spec)\n"
        "during = hasattr(sys.modules.get('inspect'), '_pyvirt_stand_in')\n"
        "try:\n"
        "    wrapped.exec_module(type(sys)('lxml.etree'))\n"
        "except ImportError as exc:\n"
        "    error = str(exc)\n"
        "print(json.dumps([during, error, 'inspect' in sys.modules, spec.loader is real]))\n"
    )
    assert out == [True, "init failed while inspect is module", False, True]


def test_modules_loaded_already_are_left_alone() -> None:
    """A module the process has loaded already costs nothing more: lxml binds the real one; with both
    loaded the finder only steps aside, and installing twice installs once."""
    code = (
        "import json, sys\n"
        "from pyvirt.util import lxml_import\n"
        "lxml_import.install()\n"
        "lxml_import.install()\n"
        "installed = sum(type(f).__name__ == '_Finder' for f in sys.meta_path)\n"
        "{preload}"
        "from lxml import etree\n"
        "print(json.dumps([installed, [type(f).__name__ for f in sys.meta_path], type(etree.__loader__).__name__,\n"
        "                  sys.modules.get('inspect') is inspect, 'gzip' in sys.modules]))\n"
    )
    only_inspect = _probe(code.format(preload="import inspect\n"))
    both = _probe(code.format(preload="import inspect, gzip\n"))
    assert only_inspect == [1, only_inspect[1], "ExtensionFileLoader", True, False]
    assert both == [1, both[1], "ExtensionFileLoader", True, True]
    assert "_Finder" not in only_inspect[1] + both[1]


def test_pyvirt_as_a_library_leaves_imports_as_they_are() -> None:
    """``import pyvirt``, and even pyvirsh's ``main()`` called as a function, change nothing in how the
    caller's process imports: lxml loads inspect as it always does, and no finder is left behind."""
    code = (
        "import json, sys\n"
        "import pyvirt\n"
        "from pyvirt.cli.main import main\n"
        "meta_path = list(sys.meta_path)\n"
        "rc = main(['-c', 'test:///default', 'dumpxml test'])\n"
        "import lxml.etree\n"
        "print(json.dumps([rc, 'inspect' in sys.modules, sys.meta_path == meta_path]))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert run.stdout.startswith("<domain type='test' id='1'>")
    assert json.loads(run.stdout.splitlines()[-1]) == [0, True, True]
