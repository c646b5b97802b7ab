"""What reading XML costs a short ``pyvirsh`` run, checked by what it loads and evaluates rather than by timing.

A ``pyvirsh`` command on ``test:///`` that shows a domain or a network pays
for importing the model modules and for reading the fields of the model
classes its document uses. These tests keep that cost where it was brought
down to: annotations stay strings until a class is used, the usual marker
shapes are read without compiling anything, and modules that only such runs
avoided (``dataclasses``, ``socket``, ``ipaddress``, the IDNA codec) stay out.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated

from lxml import etree

import pyvirt.conf
from pyvirt.conf import xmlmodel
from pyvirt.conf.xmlmodel import X, XmlModel, field, format_model, parse_model


def _model_classes() -> list[type[XmlModel]]:
    for info in pkgutil.iter_modules(pyvirt.conf.__path__):
        importlib.import_module(f"pyvirt.conf.{info.name}")
    found: list[type[XmlModel]] = []
    todo = [XmlModel]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.__module__.startswith("pyvirt.conf.") and sub not in found:
                found.append(sub)
            todo.append(sub)
    return found


def test_every_model_module_postpones_its_annotations() -> None:
    """A class statement that evaluated ``Annotated[...]`` cost typing's alias machinery for each of some 1,200 fields."""
    evaluated = [
        f"{cls.__module__}.{cls.__name__}.{name}"
        for cls in _model_classes()
        for name, ann in inspect.get_annotations(cls).items()
        if not isinstance(ann, str)
    ]
    assert len(_model_classes()) > 150
    assert evaluated == [], "model modules need 'from __future__ import annotations'"


def test_every_marker_is_read_without_compiling_and_as_evaluation_reads_it() -> None:
    fields = 0
    for cls in _model_classes():
        namespace = vars(sys.modules[cls.__module__])
        for name, ann in inspect.get_annotations(cls).items():
            if not ann.startswith("Annotated["):
                continue
            fields += 1
            annotation, meta = eval(ann, namespace, xmlmodel._READER_NAMESPACE)
            read = xmlmodel._read_annotation(ann, namespace)
            where = f"{cls.__name__}.{name}: {ann}"
            assert read is not None, f"{where} needs compiling; write it in one of the shapes _read_annotation reads"
            assert read == (xmlmodel._base_type(annotation), meta), where
    assert fields > 1000


class _Inner(XmlModel):
    value: Annotated[int | None, X("@value")] = None


class _Odd(XmlModel):
    """Shapes the hand reader leaves to evaluation, and the defaults machinery."""

    number: Annotated[int | str | None, X("@number")] = None
    pairs: Annotated[dict[str, int] | None, X("pairs/@x")] = None
    inner: Annotated[list[_Inner], X("inner", model=_Inner, many=True)] = field(default_factory=list)
    plain: list[str] = field(default_factory=list)
    hexed: Annotated[int | None, X("addr/@slot", hex=True, hex_width=2)] = None


def test_what_parsing_reads_off_the_annotation_text_is_what_the_whole_reading_gives() -> None:
    """Parsing a document reads every field's path (and whether it is a sub-model or raw content) off its
    annotation's text, and the rest only for the fields the document has: for every model class, that
    light reading, the per-field one and the unmapped-name tree built from it agree with ``xml_fields``."""
    checked = 0
    for cls in _model_classes():
        whole = cls.xml_fields()
        light = xmlmodel._light_fields(cls)
        assert [(n, m.path, m.model is not None, m.raw) for n, m, _ in whole] == light, cls.__name__
        for name, marker, typ in whole:
            assert xmlmodel._field_info(cls, name) == (marker, typ), f"{cls.__name__}.{name}"
            checked += 1
        tree = xmlmodel.ExpectedTree(open=cls.XML_OPEN)
        for _name, marker, _typ in whole:  # the tree as it was built from the whole reading
            elems, attr = xmlmodel._split(marker.path)
            node = tree
            for tag in elems[:-1]:
                node = node.child(tag)
            if marker.model is not None:
                node.children[elems[-1]] = None
            elif marker.raw:
                (node.child(elems[-1]) if elems else node).open_children = True
            else:
                node = node.child(elems[-1]) if elems else node
                if attr is not None:
                    node.attrs.add(attr)
        if "expected_tree" not in cls.__dict__:  # a model that adds to its tree itself is checked by its parse
            assert repr(cls.expected_tree()) == repr(tree), cls.__name__
    assert checked > 1000


def test_a_shape_the_reader_does_not_know_is_evaluated_in_the_classs_module() -> None:
    ns = vars(sys.modules[__name__])
    assert xmlmodel._read_annotation(_Odd.__annotations__["number"], ns) is None
    assert xmlmodel._read_annotation(_Odd.__annotations__["pairs"], ns) is None
    fields = {name: (marker, typ) for name, marker, typ in _Odd.xml_fields()}
    assert list(fields) == ["number", "pairs", "inner", "hexed"]  # declaration order, however each was read
    assert fields["number"] == (X("@number"), int | str | None)  # no single value type: kept whole
    assert fields["pairs"] == (X("pairs/@x"), dict[str, int])
    assert fields["inner"] == (X("inner", model=_Inner, many=True), _Inner)
    assert fields["hexed"][0].hex and fields["hexed"][0].hex_width == 2


def test_a_model_written_without_postponed_annotations_reads_its_annotated_objects() -> None:
    namespace: dict[str, object] = {"__name__": "not_a_module"}
    source = "from typing import Annotated\nfrom pyvirt.conf.xmlmodel import X, XmlModel\n" \
             "class Eager(XmlModel):\n    count: Annotated[int | None, X('@count')] = None\n"  # fmt: skip
    # a third party's module without the __future__ import (not inherited from this one): typing's objects
    exec(compile(source, "<eager>", "exec", dont_inherit=True), namespace)
    eager = namespace["Eager"]
    assert isinstance(eager, type) and issubclass(eager, XmlModel)
    assert eager.xml_fields() == [("count", X("@count"), int)]
    assert parse_model(eager, etree.fromstring("<e count='3'/>")) == eager(count=3)


def test_field_factories_give_each_instance_its_own_value() -> None:
    a, b = _Odd(), _Odd()
    a.plain.append("x")
    assert b.plain == [] and a.inner is not b.inner
    doc = parse_model(_Odd, etree.fromstring("<odd number='7'><inner value='1'/><inner value='2'/></odd>"))
    assert doc.number == "7" and [i.value for i in doc.inner] == [1, 2]
    doc.hexed = 10
    out = etree.tostring(format_model(doc, etree.Element("odd")), encoding="unicode")
    assert out == '<odd number="7"><inner value="1"/><inner value="2"/><addr slot="0x0a"/></odd>'


def test_markers_compare_and_print_by_their_options() -> None:
    assert X("a", model=_Inner) == X("a", model=_Inner) != X("a")
    assert len({X("a"), X("a"), X("b")}) == 2
    assert repr(X("@dev", words=("on", "off"))) == "X('@dev', words=('on', 'off'))"


_PROBE = """
import contextlib, io, json, sys
from pyvirt.cli.main import main
from pyvirt.conf.xmlmodel import XmlModel
with contextlib.redirect_stdout(io.StringIO()) as out:
    rc = main(["-c", "test:///default", sys.argv[1]])
classes, todo = [], [XmlModel]
while todo:
    for sub in todo.pop().__subclasses__():
        classes.append(sub)
        todo.append(sub)
print(json.dumps({"rc": rc, "out": out.getvalue(), "modules": sorted(sys.modules),
                  "read": sorted({c.__name__ for c in classes if "_own_fields_cache" in c.__dict__
                                  or "_field_info_cache" in c.__dict__}),
                  "classes": len(classes)}))
"""


def _probe(command: str) -> dict[str, object]:
    run = subprocess.run([sys.executable, "-c", _PROBE, command], capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(run.stdout)
    assert result["rc"] == 0, run.stderr
    return result


def test_dominfo_reads_only_the_classes_of_its_domain_and_imports_no_dataclasses() -> None:
    result = _probe("dominfo test")
    assert "Used memory:    2097152 KiB" in str(result["out"])
    modules = result["modules"]
    assert isinstance(modules, list)
    assert "dataclasses" not in modules
    read = result["read"]
    assert isinstance(read, list) and isinstance(result["classes"], int)
    # the default domain: domain, os, vcpu, memory, devices, disk, interface, memballoon, address, clock ...
    assert {"Domain", "Disk", "Interface", "Address"} <= set(read)
    assert result["classes"] > 80  # the domain modules' classes are all created ...
    assert len(read) <= 15, read  # ... and the fields of ten of them read (Domain, Os, OsType, Vcpu, Memory ...)


def test_a_network_document_needs_neither_socket_nor_ipaddress() -> None:
    result = _probe("net-dumpxml default")
    assert "<range start='192.168.122.2' end='192.168.122.254'/>" in str(result["out"])
    modules = result["modules"]
    assert isinstance(modules, list)
    assert not {"socket", "ipaddress", "encodings.idna", "dataclasses"} & set(modules)


def test_capabilities_name_the_security_model_without_the_domain_models() -> None:
    """The security stack answers model and DOI; only labelling a guest needs the domain modules."""
    result = _probe("capabilities")
    assert "<model>testSecurity</model>" in str(result["out"])
    modules = result["modules"]
    assert isinstance(modules, list)
    assert "pyvirt.security.stack" in modules
    assert not {"pyvirt.conf.domain", "pyvirt.conf.domain_devices"} & set(modules)


# pyvirsh as the console script runs it (lxml's init through pyvirt.util.lxml_import), every source text the
# process compiles recorded by an audit hook (compile(), eval() and exec() of strings all raise "compile"),
# except modules imported from source (a checkout run without bytecode caches): that is the caches' business
_COMPILE_PROBE = """
import atexit, json, sys
compiled = []
def hook(event, args):
    if event == "compile" and not str(args[1]).endswith(".py"):
        compiled.append([str(args[1]), repr(args[0])[:60]])
sys.addaudithook(hook)
atexit.register(lambda: sys.stderr.write("COMPILED " + json.dumps([compiled, sorted(sys.modules)]) + "\\n"))
sys.argv = ["pyvirsh", "-c", "test:///default", sys.argv[1]]
from pyvirt.cli.console import console_main
console_main()
"""


def test_reading_and_defining_a_domain_compiles_no_source_text(tmp_path: Path) -> None:
    """The first ``compile()`` of a process builds every ``ast`` node class: ten million instructions, a fifth
    of virsh's whole ``dominfo``. ``TypeVar("M", bound="XmlModel")`` once paid that on every command that reads
    XML (typing compiles a string bound into a ForwardRef); the annotation reader and lxml's init compile
    nothing either, so no command that reads, writes or defines a domain may compile anything."""
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    guest = Path(__file__).resolve().parents[1] / "data" / "guest-x.xml"
    line = f"dominfo test; dumpxml test; define {guest}; dumpxml x --inactive"
    for _ in range(2):  # the first run writes pyvirt's entry-point index (importlib.metadata compiles its own)
        run = subprocess.run([sys.executable, "-c", _COMPILE_PROBE, line], capture_output=True, text=True,
                             env=env, timeout=60, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "Used memory:    2097152 KiB" in run.stdout and "<name>x</name>" in run.stdout
    compiled, modules = json.loads(run.stderr.rsplit("COMPILED ", 1)[1])
    assert compiled == [], f"compiled at run time: {compiled}"
    # dumpxml formats a deep copy, made by the models themselves: copy (with weakref) cost it 6M instructions
    assert "copy" not in modules


# pyvirsh as the console script runs it, the modules it ended with printed at exit (json imported only then: it
# loads re itself)
_MODULES_PROBE = """
import atexit, sys
def report():
    loaded = sorted(sys.modules)
    import json
    sys.stderr.write("MODULES " + json.dumps(loaded) + "\\n")
atexit.register(report)
sys.argv = ["pyvirsh", "-c", "test:///default", sys.argv[1]]
from pyvirt.cli.console import console_main
console_main()
"""


def test_domain_and_snapshot_commands_load_neither_re_nor_typing_nor_collections(tmp_path: Path) -> None:
    """Reading, defining and snapshotting a domain on test:/// loads none of ``re`` (with ``enum``), ``typing``,
    ``contextlib``, ``collections``, ``functools`` and ``types``: about thirty million instructions together,
    more than half of virsh's whole run of such a line. lxml's init no longer needs ``re`` (pyvirt.util.lxml_import), and the models and the test
    driver read children without ElementPath (its first path compiles a pattern); conf/snapshot.py and
    conf/snapshot_align.py import typing only for type checkers; the security stack's rollbacks use no
    contextlib."""
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    guest = Path(__file__).resolve().parents[1] / "data" / "guest-x.xml"
    line = (
        f"dominfo test; dumpxml test; define {guest}; dumpxml x --inactive; start x; destroy x; "
        "snapshot-create-as test s1; snapshot-list test; snapshot-revert test s1; snapshot-dumpxml test s1; "
        "snapshot-delete test s1; net-dumpxml default; pool-dumpxml default-pool"
    )
    for _ in range(2):  # the first run writes pyvirt's entry-point index (importlib.metadata loads them all)
        run = subprocess.run([sys.executable, "-c", _MODULES_PROBE, line], capture_output=True, text=True,
                             env=env, timeout=60, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "<name>s1</name>" in run.stdout and "Domain snapshot s1 deleted" in run.stdout
    modules = json.loads(run.stderr.rsplit("MODULES ", 1)[1])
    assert "lxml.etree" in modules and "pyvirt.conf.snapshot" in modules and "pyvirt.security.stack" in modules
    loaded = {"re", "enum", "typing", "contextlib", "collections", "functools", "types"} & set(modules)
    assert not loaded, f"these came back on test:///'s read path: {sorted(loaded)}"


def test_a_deep_model_copy_is_what_copy_deepcopy_gives_and_shares_nothing_with_the_original() -> None:
    import copy

    from pyvirt.conf.domain import format_domain, parse_domain
    from pyvirt.drivers.test.fixture import DEFAULT_DOMAIN_XML

    dom = parse_domain(DEFAULT_DOMAIN_XML)
    assert dom.devices is not None
    mine, theirs = dom.model_copy(deep=True), copy.deepcopy(dom)
    assert mine == theirs == dom and format_domain(mine) == format_domain(theirs) == format_domain(dom)
    assert mine.devices is not None and mine.devices is not dom.devices
    assert mine.devices.disks is not dom.devices.disks and mine.devices.disks[0] is not dom.devices.disks[0]
    mine.devices.disks[0].target_dev = "vdz"
    mine.devices.disks.append(copy.copy(mine.devices.disks[0]))
    assert dom.devices.disks[0].target_dev == "vda" and len(dom.devices.disks) == 1
    shallow = dom.model_copy()
    assert shallow == dom and shallow is not dom and shallow.devices is dom.devices
    # one sub-model reached twice stays one object in the copy, as deepcopy keeps it
    pair = _Odd(inner=[_Inner(value=1)])
    pair.inner.append(pair.inner[0])
    copied = pair.model_copy(deep=True)
    assert copied.inner[0] is copied.inner[1] is not pair.inner[0] and copied == pair
