"""Connection URIs: libvirt's grammar, defaults, aliases and sanity rules."""

from __future__ import annotations

from pathlib import Path

import pytest

import pyvirt
from pyvirt.config import ClientConfig, load_client_config
from pyvirt.errors import Error, ErrorCode
from pyvirt.uri import parse_uri, resolve_uri
from pyvirt.util.virconf import parse_conf


def test_full_grammar() -> None:
    u = parse_uri("qemu+ssh://root@host.example:2222/system?keyfile=/k%20ey&no_verify=1")
    assert (u.driver, u.transport, u.user, u.server, u.port, u.path) == (
        "qemu", "ssh", "root", "host.example", 2222, "/system",
    )  # fmt: skip
    assert u.param("keyfile") == "/k ey" and u.param("no_verify") == "1"
    assert u.is_remote and not u.is_embed
    assert parse_uri("test:///default").path == "/default" and not parse_uri("test:///default").is_remote
    v6 = parse_uri("qemu+tcp://[::1]:16509/system")
    assert (v6.server, v6.port) == ("::1", 16509)


def test_missing_slash_is_refused_with_libvirts_hint() -> None:
    for uri, hint in (("qemu://system", "qemu:///system"), ("qemu://session", "qemu:///session")):
        with pytest.raises(Error) as e:
            pyvirt.open(uri)
        assert e.value.code == ErrorCode.INTERNAL_ERROR
        assert e.value.message == f"internal error: invalid URI {uri} (maybe you want {hint})"


def test_no_driver_for_scheme_names_the_distribution() -> None:
    # bhyve is one of libvirt's drivers that pyvirt has no distribution for
    with pytest.raises(Error) as e:
        pyvirt.open("bhyve:///system")
    assert e.value.code == ErrorCode.NO_CONNECT
    # libvirt's message, and no guessed distribution name (it does not exist; suggesting it invites a squatter)
    assert e.value.message == "no connection driver available for bhyve:///system"
    from pyvirt.plugin.registry import install_hint

    assert install_hint("xen") == " (install pyvirt-xen)"  # a scheme one of pyvirt's own distributions serves
    assert install_hint("bhyve") == ""


def test_default_uri_from_environment_then_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LIBVIRT_DEFAULT_URI", "test:///default")
    assert str(resolve_uri(None, ClientConfig(uri_default="qemu:///system"))) == "test:///default"
    monkeypatch.delenv("LIBVIRT_DEFAULT_URI")
    conf = tmp_path / "pyvirt.conf"
    conf.write_text('# client config\nuri_default = "test:///default"\n')
    monkeypatch.setenv("PYVIRT_CONFIG", str(conf))
    with pyvirt.open() as conn:
        assert conn.uri == "test:///default"
    monkeypatch.setenv("PYVIRT_CONFIG", str(tmp_path / "absent.conf"))
    with pytest.raises(Error) as e:
        pyvirt.open()
    assert e.value.code == ErrorCode.NO_CONNECT


def test_aliases(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    conf = tmp_path / "pyvirt.conf"
    conf.write_text('uri_aliases = [\n  "hail=qemu+ssh://root@hail.example/system",\n  "t=test:///default",\n]\n')
    monkeypatch.setenv("PYVIRT_CONFIG", str(conf))
    cfg = load_client_config()
    assert str(resolve_uri("hail", cfg)) == "qemu+ssh://root@hail.example/system"
    with pyvirt.open("t") as conn:
        assert conn.lookup_domain_by_name("test").id == 1
    bad = ClientConfig(uri_aliases=("no equals sign",))
    with pytest.raises(Error) as e:
        resolve_uri("x", bad)
    assert e.value.code == ErrorCode.CONF_SYNTAX and "expected 'alias=uri://host/path'" in e.value.message
    bad = ClientConfig(uri_aliases=("bad alias!=test:///default",))
    with pytest.raises(Error) as e:
        resolve_uri("x", bad)
    assert "aliases may only contain 'a-Z, 0-9, _, -'" in e.value.message


def test_embed_root_must_be_given_and_absolute() -> None:
    with pytest.raises(Error) as e:
        pyvirt.open("test:///embed?root=relative/dir")
    assert (e.value.code, e.value.message) == (
        ErrorCode.CONFIG_UNSUPPORTED,
        "unsupported configuration: root path must be absolute",
    )
    with pytest.raises(Error) as e:
        pyvirt.open("test:///embed")
    assert "Missing URI parameter 'root'" in e.value.message


def test_conf_syntax() -> None:
    assert parse_conf('a = 1\nb = \'x\' # c\nc = [ "1", "2" ]\n') == {"a": 1, "b": "x", "c": ["1", "2"]}
    with pytest.raises(Error) as e:
        parse_conf("a = \n", "f.conf")
    assert e.value.code == ErrorCode.CONF_SYNTAX


# The regular expression pyvirt.uri used until it parsed by hand (re and its compiled patterns were
# about 2 ms of a short pyvirsh run); the hand-written splitter must accept and split exactly as it did.
_REFERENCE_URI_RE = r"""^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*):
        (?://(?P<authority>[^/?#]*))?
        (?P<path>[^?#]*)
        (?:\?(?P<query>[^#]*))?
        (?:\#.*)?$"""


def test_uri_split_is_the_grammar_of_the_regular_expression_it_replaced() -> None:
    import random
    import re

    from pyvirt.uri import _split

    reference = re.compile(_REFERENCE_URI_RE, re.VERBOSE)
    samples = [
        "qemu:///system", "test:///default", "qemu+ssh://root@host:22/system?keyfile=/k&no_verify=1",
        "xen://[::1]:8080/", "lxc:///embed?root=/tmp/r", "a:", ":x", "1a:b", "é:/x", "a_b://x", "a.b+c-d://h/p",
        "qemu:///system#frag", "qemu:///system#fr\nag", "qemu:///system#frag\n", "qemu:///system\n",
        "qemu:///s?x=1#y\n", "qemu://h?q/x#f", "qemu://h#f/x", "q://", "q:////x", "q:/x?", "q:?a#", "", "noscheme",
    ]  # fmt: skip
    rng = random.Random(19)
    alphabet = "aZ9+.-_:/?#@[]\n é%"
    samples += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(12))) for _ in range(20000)]
    for text in samples:
        m = reference.match(text)
        want = None if m is None else (m["scheme"], m["authority"] or "", m["path"] or "", m["query"] or "")
        assert _split(text) == want, repr(text)


def test_an_ordinary_uri_is_parsed_without_importing_re() -> None:
    import subprocess
    import sys

    probe = (
        "import sys; from pyvirt.uri import parse_uri, resolve_uri; from pyvirt.config import ClientConfig; "
        "u = resolve_uri('qemu+unix:///system?socket=/run/x', ClientConfig()); "
        "assert (u.driver, u.transport, u.path, u.param('socket')) == ('qemu', 'unix', '/system', '/run/x'); "
        "print('re' in sys.modules, parse_uri('test:///a%20b').path)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "/a", "b"]  # re only once a %-escape needs decoding


def test_a_missing_client_config_is_empty_without_loading_the_parser(tmp_path: Path) -> None:
    """The usual host has no pyvirt.conf: a short run must not import the libvirt-syntax parser (and re)
    to learn that; any other failure to reach the file is still the parser's error, in libvirt's words."""
    import subprocess
    import sys

    probe = (
        "import sys; from pyvirt.config import load_client_config; "
        f"c = load_client_config({str(tmp_path / 'absent.conf')!r}); "
        "print(c.uri_default, c.uri_aliases, 'pyvirt.util.virconf' in sys.modules, 're' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["None", "()", "False", "False"]
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    with pytest.raises(Error) as e:
        load_client_config(str(not_a_dir / "pyvirt.conf"))
    assert e.value.code == ErrorCode.SYSTEM_ERROR and "Not a directory" in e.value.message


def test_client_config_errors_name_file_line_and_key(tmp_path: Path) -> None:
    conf = tmp_path / "pyvirt.conf"
    conf.write_text('uri_default = "test:///default"\nuri_defualt = "qemu:///system"\n')
    with pytest.raises(Error) as e:
        load_client_config(str(conf))
    assert e.value.code == ErrorCode.CONF_SYNTAX and e.value.message.endswith(f"{conf}:2: uri_defualt: unknown setting")
    conf.write_text("\nuri_aliases = 5\n")
    with pytest.raises(Error) as e:
        load_client_config(str(conf))
    assert e.value.message.endswith(f"{conf}:2: uri_aliases: must be a list of strings")
