"""The checked-in generated modules are exactly what libvirt 9.0's ``.x`` files and the call table give.

The ``.x`` files come from Debian's libvirt source package through
``pyvirt.testing.sources`` (cached, never committed). A change to the
generator, the table or the hook specs without regenerating
(``tools/generate-remote-protocol``) fails here.
"""

from __future__ import annotations

from pathlib import Path

from pyvirt.remote import _keepalive, _remote, _virnet, message
from pyvirt.remote.stubgen import generate_hooks
from pyvirt.remote.xdrgen import PROTOCOLS, generate_all
from pyvirt.remote.xdrparse import external_constants, parse
from pyvirt.testing.sources import require

REMOTE = Path(__file__).resolve().parents[2] / "src" / "pyvirt" / "remote"


def libvirt_source() -> Path:
    return require("libvirt")


def test_codecs_regenerate_byte_for_byte_from_libvirts_x_files() -> None:
    generated = generate_all(libvirt_source())
    assert {module for _, module, _ in PROTOCOLS} <= set(generated)
    checked_in = {p.stem[1:] for p in REMOTE.glob("_*.py") if p.name not in ("_hooks.py", "__init__.py")}
    assert checked_in == set(generated), "stale or missing generated modules: run tools/generate-remote-protocol"
    for module, text in generated.items():
        assert (REMOTE / f"_{module}.py").read_text() == text, (
            f"_{module}.py is stale: run tools/generate-remote-protocol"
        )


def test_hooks_regenerate_byte_for_byte_from_the_call_table() -> None:
    assert (REMOTE / "_hooks.py").read_text() == generate_hooks(), "run tools/generate-remote-protocol"


def test_the_parser_reads_libvirts_tables_and_annotations() -> None:
    src = libvirt_source()
    spec = parse((src / "src/remote/remote_protocol.x").read_text(), external_constants(src))
    procs = spec.procedures["remote_procedure"]
    assert len(procs) == 443 and procs[-1].name == "REMOTE_PROC_DOMAIN_FD_ASSOCIATE"
    assert spec.constants["REMOTE_SECURITY_LABEL_MAX"] == 4097  # VIR_SECURITY_LABEL_BUFLEN, from libvirt-host.h
    by_name = {p.name: p for p in procs}
    assert by_name["REMOTE_PROC_CONNECT_OPEN"].annotations == [
        ("generate", "none"), ("priority", "high"), ("acl", "connect:getattr")
    ]  # fmt: skip
    stream = _remote.PROCEDURES[_remote.REMOTE_PROC_DOMAIN_OPEN_CONSOLE]
    assert stream.annotation("readstream") == ["2"] and stream.priority == "low"
    lookup = _remote.PROCEDURES[_remote.REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME]
    assert (lookup.args_type, lookup.ret_type) == (
        "remote_domain_lookup_by_name_args",
        "remote_domain_lookup_by_name_ret",
    )
    assert _remote.FIELDS[lookup.args_type] == ("name",)
    ping = _keepalive.PROCEDURES[_keepalive.KEEPALIVE_PROC_PING]
    assert (ping.pack_args, ping.args_type, ping.ret_type) == (None, None, None)
    assert lookup.priority == "high" and lookup.annotation("acl") == ["domain:getattr"]
    event = _remote.PROCEDURES[_remote.REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE]
    assert event.is_message and event.unpack_args is _remote.unpack_remote_domain_event_callback_lifecycle_msg


def test_framing_constants_repeated_in_message_are_the_generated_ones() -> None:
    """message.py repeats a few numbers so that framing never imports the big codec; they must agree."""
    assert message.MESSAGE_MAX == _virnet.VIR_NET_MESSAGE_MAX
    assert message.HEADER_SIZE == _virnet.VIR_NET_MESSAGE_HEADER_MAX
    assert message.LEN_SIZE == _virnet.VIR_NET_MESSAGE_LEN_MAX
    assert message.REMOTE_PROGRAM == _remote.PROGRAM == 0x20008086
    assert message.REMOTE_PROTOCOL_VERSION == _remote.PROTOCOL_VERSION == 1
    assert message.KEEPALIVE_PROGRAM == _keepalive.PROGRAM == 0x6B656570
    assert message.KEEPALIVE_PROC_PING == _keepalive.KEEPALIVE_PROC_PING
    assert message.KEEPALIVE_PROC_PONG == _keepalive.KEEPALIVE_PROC_PONG
    assert [m.value for m in message.MessageType] == [
        _virnet.VIR_NET_CALL, _virnet.VIR_NET_REPLY, _virnet.VIR_NET_MESSAGE, _virnet.VIR_NET_STREAM,
        _virnet.VIR_NET_CALL_WITH_FDS, _virnet.VIR_NET_REPLY_WITH_FDS, _virnet.VIR_NET_STREAM_HOLE,
    ]  # fmt: skip
    assert [s.value for s in message.Status] == [_virnet.VIR_NET_OK, _virnet.VIR_NET_ERROR, _virnet.VIR_NET_CONTINUE]


def test_a_client_imports_only_the_code_of_the_procedures_it_calls() -> None:
    """remote_protocol.x's 443 procedures are split so that a short pyvirsh run unmarshals a fraction of them."""
    import subprocess
    import sys

    probe = (
        "import sys; from pyvirt.remote import _remote; p = _remote.PROCEDURES[_remote.REMOTE_PROC_CONNECT_OPEN]; "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('pyvirt.remote._remote'))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["pyvirt.remote._remote", "pyvirt.remote._remote_p0", "pyvirt.remote._remote_types"]
    # the whole of a ``pyvirsh list``: the remote open's calls, the listing, the states, the close
    probe = (
        "import sys; from pyvirt.remote import _remote as r; "
        "[(p.pack_args, p.unpack_ret) for p in map(r.PROCEDURES.__getitem__, (r.REMOTE_PROC_AUTH_LIST, "
        "r.REMOTE_PROC_CONNECT_SUPPORTS_FEATURE, r.REMOTE_PROC_CONNECT_OPEN, r.REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS, "
        "r.REMOTE_PROC_DOMAIN_GET_STATE, r.REMOTE_PROC_CONNECT_CLOSE))]; "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('pyvirt.remote._remote'))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["pyvirt.remote._remote", "pyvirt.remote._remote_p0", "pyvirt.remote._remote_types"]
    assert len(_remote.PROCEDURES) == 443 and _remote.REMOTE_PROC_DOMAIN_FD_ASSOCIATE in _remote.PROCEDURES


def test_the_shared_type_module_holds_only_what_several_chunks_use() -> None:
    """A short client run loads ``_remote_types`` whatever it calls: a type only one chunk's procedures use
    (directly, or through another type) is generated into that chunk instead (it held all 700 shared types,
    44 KB of bytecode, for the three or four a ``destroy`` uses). Read from the generated modules: which
    chunks import each type's functions, and which shared types call them."""
    import re

    types_source = (REMOTE / "_remote_types.py").read_text()
    defined = re.findall(r"^def pack_(\w+)\(", types_source, re.M)
    bodies = {
        m.group(1): m.group(0) for m in re.finditer(r"^def pack_(\w+)\(.*?(?=^def |\Z)", types_source, re.M | re.S)
    }
    users: dict[str, set[str]] = {name: set() for name in defined}
    for chunk in [*sorted(REMOTE.glob("_remote_p*.py")), REMOTE / "_qemu.py", REMOTE / "_lxc.py"]:
        imported = re.search(r"^from pyvirt\.remote\._remote_types import \((.*?)\)", chunk.read_text(), re.M | re.S)
        for name in re.findall(r"\bpack_(\w+)", imported.group(1) if imported else ""):
            users[name].add(chunk.stem)
    from pyvirt.remote._remote_index import INDEX
    from pyvirt.remote.xdrgen import CHUNK, OPENING_CALLS

    for line in INDEX.strip().splitlines():  # and the procedures' own structs, found through the index
        name, number, args_type, args_module, ret_type, ret_module = line.split(" ")
        chunk = "_remote_p0" if f"REMOTE_PROC_{name}" in OPENING_CALLS else f"_remote_p{int(number) // CHUNK['remote']}"
        for type_name, module in ((args_type, args_module), (ret_type, ret_module)):
            if module == "remote_types":
                users[type_name].add(chunk)
    changed = True
    while changed:  # a shared type's users are also those of the shared types that use it
        changed = False
        for name, body in bodies.items():
            for used in re.findall(r"\bpack_(\w+)\(", body):
                if used in users and used != name and not users[name] <= users[used]:
                    users[used] |= users[name]
                    changed = True
    assert "remote_nonnull_domain" in users and len(users["remote_nonnull_domain"]) > 1
    only_one = sorted(name for name, where in users.items() if len(where) == 1)
    assert not only_one, f"shared types one chunk alone uses, generated into _remote_types: {only_one[:10]}"
    assert "_remote_p" not in types_source  # and it imports nothing from the chunks (no import cycle)
