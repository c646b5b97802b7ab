"""Text libvirt writes as it read it: ``<description>`` keeps its whitespace, ``<metadata>`` is libxml2's dump.

libvirt reads the description with virXPathString (no trimming) and writes
the metadata subtree with xmlNodeDump, so namespace declarations and
attributes there are double-quoted, unlike the rest of its output.
"""

from __future__ import annotations

from pyvirt.conf.domain import format_domain, parse_domain

DOC = """<domain type='kvm'>
  <name>t</name>
  <description>
      A guest&apos;s notes,
      over two lines.
  </description>
  <metadata>
    <app1:foo xmlns:app1="http://foo.org/">fooish</app1:foo>
    <app2:bar xmlns:app2="http://bar.com/" maman="baz">barish</app2:bar>
  </metadata>
  <memory unit='KiB'>1024</memory>
  <os><type>hvm</type></os>
</domain>"""


def test_description_keeps_its_whitespace() -> None:
    out = format_domain(parse_domain(DOC), 2)
    assert "  <description>\n      A guest&apos;s notes,\n      over two lines.\n  </description>\n" in out


def test_metadata_is_written_as_libxml2_dumps_it() -> None:
    out = format_domain(parse_domain(DOC), 2)
    assert (
        "  <metadata>\n"
        '    <app1:foo xmlns:app1="http://foo.org/">fooish</app1:foo>\n'
        '    <app2:bar xmlns:app2="http://bar.com/" maman="baz">barish</app2:bar>\n'
        "  </metadata>\n"
    ) in out
    # and the round trip is stable
    assert format_domain(parse_domain(out), 2) == out


def test_metadata_text_over_lines_is_kept_as_it_is() -> None:
    doc = DOC.replace("fooish", "first line\nsecond line")
    once = format_domain(parse_domain(doc), 2)
    assert "first line\nsecond line" in once
    assert format_domain(parse_domain(once), 2) == once
