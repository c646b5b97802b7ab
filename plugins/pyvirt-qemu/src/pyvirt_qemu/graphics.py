"""Remote displays: VNC and SPICE, from ``qemu.conf`` and ``<graphics>`` to QEMU and back.

Three moments, as in libvirt:

- before start, ``prepare_graphics`` fills in what the live XML will show:
  the listen address from ``vnc_listen``/``spice_listen`` (127.0.0.1 by
  default), a socket in the guest's private directory when asked for one
  (``<listen type='socket'/>`` or ``*_auto_unix_socket``), and the ports of
  ``autoport`` displays, taken from 5900 up (SPICE's TLS port only when
  ``spice_tls`` is on);
- ``graphics_args`` writes ``-vnc`` and ``-spice`` with libvirt's options in
  libvirt's order;
- once QEMU runs, ``set_passwords`` hands it the passwords over QMP
  (``set_password``, ``expire_password``) so they never appear on the
  command line, and without one SPICE runs with ``disable-ticketing``.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
from dataclasses import dataclass
from typing import Any, Protocol

from lxml import etree

from pyvirt.conf.domain import Domain, parse_domain
from pyvirt.conf.domain_devices import Graphics, GraphicsListen
from pyvirt.errors import ErrorCode, InternalError, NotSupportedError, OperationFailedError
from pyvirt_qemu.qemu_secrets import GuestSecrets

__all__ = [
    "GraphicsConfig",
    "graphics_args",
    "parse_status_domain",
    "prepare_graphics",
    "sdl_environment",
    "set_passwords",
    "status_domain_xml",
]

_SPICE_CHANNELS = ("main", "display", "inputs", "cursor", "playback", "record", "smartcard", "usbredir")
_PORT_MIN, _PORT_MAX = 5900, 65535


class _Executes(Protocol):
    def execute(self, command: str, arguments: dict[str, Any] | None = None, timeout: float = 30.0) -> Any: ...


@dataclass(frozen=True)
class GraphicsConfig:
    """The display settings of ``qemu.conf`` (libvirt's names and defaults; read by :mod:`pyvirt_qemu.driver_config`)."""

    vnc_listen: str = "127.0.0.1"
    vnc_auto_unix_socket: bool = False
    vnc_password: str | None = None
    vnc_tls: bool = False
    vnc_tls_x509_cert_dir: str = "/etc/pki/qemu"
    vnc_tls_x509_verify: bool = False
    vnc_tls_x509_secret_uuid: str | None = None  # the secret (usage 'tls') unlocking the server's private key
    vnc_sasl: bool = False
    vnc_sasl_dir: str | None = None
    spice_listen: str = "127.0.0.1"
    spice_auto_unix_socket: bool = False
    spice_tls: bool = False
    spice_tls_x509_cert_dir: str = "/etc/pki/libvirt-spice"
    spice_password: str | None = None
    spice_sasl: bool = False
    port_min: int = _PORT_MIN
    port_max: int = _PORT_MAX
    websocket_min: int = 5700
    websocket_max: int = _PORT_MAX


def _unsupported(what: str) -> NotSupportedError:
    return NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"{what} is not supported by the QEMU driver yet")


# ---------------------------------------------------------------------------- before start
class _Ports:
    """Free TCP ports from the display range; a port another guest (or anything) holds is skipped."""

    def __init__(self, cfg: GraphicsConfig, allocate: bool) -> None:
        self.cfg = cfg
        self.allocate = allocate
        self.taken: set[int] = set()

    def take(self, what: str) -> int:
        if not self.allocate:
            return {"VNC": 5900, "SPICE": 5901, "SPICE TLS": 5902, "websocket": 5700}[what]
        low, high = (self.cfg.websocket_min, self.cfg.websocket_max) if what == "websocket" else (
            self.cfg.port_min, self.cfg.port_max)  # fmt: skip
        for port in range(low, high + 1):
            if port in self.taken:
                continue
            with socket.socket() as s:
                try:
                    s.bind(("0.0.0.0", port))
                except OSError:
                    continue
            self.taken.add(port)
            return port
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"Unable to find an unused port for {what}")


def _spice_needs(g: Graphics, cfg: GraphicsConfig) -> tuple[bool, bool]:
    """(plain port, TLS port) an autoport SPICE display needs (libvirt's rule)."""
    modes = [c.mode for c in g.channels or []]
    need_tls = "secure" in modes or g.defaultMode == "secure"
    need_plain = "insecure" in modes or g.defaultMode == "insecure"
    if g.defaultMode in (None, "any"):
        need_tls = need_tls or cfg.spice_tls
        need_plain = True
    return need_plain, need_tls


def _escape_commas(text: str) -> str:
    return text.replace(",", ",,")


def drm_render_node() -> str:
    """libvirt's virHostGetDRMRenderNode: the host's first DRM render node, where an OpenGL display that names
    none renders."""
    try:
        names = os.listdir("/dev/dri")
    except OSError as exc:
        raise OperationFailedError(ErrorCode.SYSTEM_ERROR, f"cannot open directory '/dev/dri': {exc.strerror}",
                                   verbatim=False) from exc  # fmt: skip
    node = next((n for n in names if n.startswith("renderD")), None)
    if node is None:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "No DRM render nodes available")
    return f"/dev/dri/{node}"


def prepare_graphics(dom: Domain, cfg: GraphicsConfig, lib_dir: str, *, allocate: bool = True) -> None:
    """Listen addresses, auto sockets and ports written into the live definition before start.

    ``allocate=False`` (``domxml-to-native``) reserves nothing and uses libvirt's
    placeholders: 5900 for VNC, 5901 and 5902 for SPICE.
    """
    ports = _Ports(cfg, allocate)
    for g in dom.devices.graphics if dom.devices is not None else []:
        if g.type == "egl-headless" and not g.gl_rendernode:
            g.gl_rendernode = drm_render_node()  # qemuProcessGraphicsSetupRenderNode
        if g.type not in ("vnc", "spice"):
            continue
        auto_socket = cfg.vnc_auto_unix_socket if g.type == "vnc" else cfg.spice_auto_unix_socket
        listen_default = cfg.vnc_listen if g.type == "vnc" else cfg.spice_listen
        first = g.listens[0] if g.listens else None
        if first is not None and first.type == "address" and not first.address:
            if auto_socket:
                g.listens = [GraphicsListen(type="socket", socket=f"{lib_dir}/{g.type}.sock", from_config=True)]
                first = g.listens[0]
            else:
                first.address = g.listen = listen_default
                first.from_config = True
        if first is not None and first.type == "socket" and not first.socket:
            first.socket = f"{lib_dir}/{g.type}.sock"
            first.auto_generated = True
        if g.type == "vnc" and first is not None and first.type == "socket":
            g.socket, g.port, g.autoport = first.socket, None, None  # the live XML names the socket, no port
        if first is None or first.type != "address":
            continue
        if g.type == "vnc" and (g.autoport or g.port in (None, -1)):
            g.port = ports.take("VNC")
        if g.type == "vnc" and g.websocket == -1:
            g.websocket = ports.take("websocket")
        elif g.type == "spice" and g.autoport:
            need_plain, need_tls = _spice_needs(g, cfg)
            if need_plain or g.port == -1:
                g.port = ports.take("SPICE")
            if need_tls or g.tlsPort == -1:
                if not cfg.spice_tls:
                    raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                            "Auto allocation of spice TLS port requested but spice TLS is disabled "
                                            "in qemu.conf")  # fmt: skip
                g.tlsPort = ports.take("SPICE TLS")


# ---------------------------------------------------------------------------- status file
def status_domain_xml(dom: Domain, xml: str) -> str:
    """The live definition ``dom``, formatted as ``xml``, as the status file keeps it: each graphics listen says
    whether start filled it in from qemu.conf or made its socket up (virDomainGraphicsListenDefFormat with
    VIR_DOMAIN_DEF_FORMAT_STATUS: ``fromConfig``, ``autoGenerated``), so that a restarted daemon still leaves
    them out of migratable XML. (libvirt keeps no such mark for a security label it generated: after a restart
    its migratable XML shows that label, and so does pyvirt's.)"""
    root = etree.fromstring(xml.encode())
    for g, elem in zip(
        dom.devices.graphics if dom.devices is not None else [], root.iterfind("devices/graphics"), strict=False
    ):
        for listen, listen_elem in zip(g.listens or [], elem.iterfind("listen"), strict=False):
            listen_elem.set("fromConfig", "1" if listen.from_config else "0")
            listen_elem.set("autoGenerated", "yes" if listen.auto_generated else "no")
    return etree.tostring(root, encoding="unicode")


def parse_status_domain(xml: str) -> Domain:
    """The live definition a status file keeps (see :func:`status_domain_xml`), its listens' marks read back
    (virDomainGraphicsListenDefParseXML with VIR_DOMAIN_DEF_PARSE_STATUS)."""
    root = etree.fromstring(xml.encode())
    marks = [
        [(listen.attrib.pop("fromConfig", "0") != "0", listen.attrib.pop("autoGenerated", "no") == "yes")
         for listen in elem.iterfind("listen")]
        for elem in root.iterfind("devices/graphics")
    ]  # fmt: skip
    dom = parse_domain(etree.tostring(root, encoding="unicode"), live=True)
    for g, listen_marks in zip(dom.devices.graphics if dom.devices is not None else [], marks, strict=False):
        for listen, (from_config, auto_generated) in zip(g.listens or [], listen_marks, strict=False):
            listen.from_config, listen.auto_generated = from_config, auto_generated
    return dom


# ---------------------------------------------------------------------------- command line
def _escape(text: str) -> str:
    return text.replace(",", ",,")


def _vnc(g: Graphics, cfg: GraphicsConfig, lib_dir: str, fallback_port: int | None, audio_id: int | None,
         secrets: GuestSecrets | None) -> list[str]:  # fmt: skip
    out: list[str] = []
    kind = g.listens[0].type if g.listens else ("socket" if g.socket else "address")
    if kind == "none":
        text = "none"
    elif kind == "socket":
        path = (g.listens[0].socket if g.listens else None) or g.socket or f"{lib_dir}/vnc.sock"
        text = f"vnc=unix:{_escape(path)}"
    elif kind == "address":
        listen = (g.listens[0].address if g.listens and g.listens[0].address else g.listen) or cfg.vnc_listen
        port = g.port if g.port is not None and g.port > 0 else fallback_port
        if port is None:
            raise _unsupported("VNC without a port")
        host = f"[{listen}]" if ":" in listen else listen
        text = f"{host}:{port - 5900}"
        if g.websocket is not None and g.websocket > 0:
            text += f",websocket={g.websocket}"
    else:
        raise _unsupported(f"VNC listen type '{kind}'")
    if g.sharePolicy:
        text += f",share={g.sharePolicy}"
    if g.passwd is not None or cfg.vnc_password is not None:
        text += ",password=on"
    if cfg.vnc_tls:
        # QEMU's TLS credentials object: certificates from the configured directory, peers verified if asked,
        # the private key unlocked by a secret encrypted with the master key (qemuDomainSecretGraphicsPrepare)
        creds: dict[str, Any] = {"qom-type": "tls-creds-x509", "id": "vnc-tls-creds0", "dir": cfg.vnc_tls_x509_cert_dir,
                                 "endpoint": "server", "verify-peer": cfg.vnc_tls_x509_verify}  # fmt: skip
        if cfg.vnc_tls_x509_secret_uuid:
            if secrets is None:
                raise _unsupported("vnc_tls_x509_secret_uuid without the guest's master key")
            value = secrets.value("tls", cfg.vnc_tls_x509_secret_uuid, None, "vnc_tls_x509_secret_uuid")
            out += ["-object", json.dumps(secrets.secret_object("vnc-tls-creds0-secret0", value),
                                          separators=(",", ":"))]  # fmt: skip
            creds["passwordid"] = "vnc-tls-creds0-secret0"
        out += ["-object", json.dumps(creds, separators=(",", ":"))]
        text += ",tls-creds=vnc-tls-creds0"
    if cfg.vnc_sasl:
        text += ",sasl=on"
    if g.powerControl is not None:
        text += f",power-control={'on' if g.powerControl else 'off'}"
    if audio_id is not None:
        text += f",audiodev=audio{audio_id}"
    out += ["-vnc", text]
    if g.keymap:
        out += ["-k", g.keymap]
    return out


def _spice(g: Graphics, cfg: GraphicsConfig, lib_dir: str) -> list[str]:
    first = g.listens[0] if g.listens else GraphicsListen(type="address")
    opts: list[str] = []
    plain = secure = False
    if first.type == "socket":
        opts.append(f"unix,addr={_escape(first.socket or f'{lib_dir}/spice.sock')}")
        plain = True
    elif first.type in ("address", "network"):
        if g.port and g.port > 0:
            opts.append(f"port={g.port}")
            plain = True
        if g.tlsPort and g.tlsPort > 0:
            opts.append(f"tls-port={g.tlsPort}")
            secure = True
        address = first.address or g.listen
        if (plain or secure) and address:
            opts.append(f"addr={address}")
    else:  # none: QEMU wants some port; 0 listens nowhere
        opts.append("port=0")
        plain = True
    if cfg.spice_sasl:
        opts.append("sasl=on")
    if g.mouse_mode in ("server", "client"):
        opts.append(f"agent-mouse={'off' if g.mouse_mode == 'server' else 'on'}")
    if g.passwd is None and cfg.spice_password is None:
        opts.append("disable-ticketing=on")
    if secure:
        opts.append(f"x509-dir={_escape(cfg.spice_tls_x509_cert_dir)}")
    if g.defaultMode == "secure":
        if not secure:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "spice defaultMode secure requested in XML "
                                    "configuration, but TLS connection is not available")  # fmt: skip
        opts.append("tls-channel=default")
    elif g.defaultMode == "insecure":
        if not plain:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "spice defaultMode insecure requested in XML "
                                    "configuration, but plaintext connection is not available")  # fmt: skip
        opts.append("plaintext-channel=default")
    modes = {c.name: c.mode for c in g.channels or []}
    for name in _SPICE_CHANNELS:
        mode = modes.get(name)
        if mode == "secure":
            if not secure:
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "spice secure channels set in XML "
                                        "configuration, but TLS connection is not available")  # fmt: skip
            opts.append(f"tls-channel={name}")
        elif mode == "insecure":
            if not plain:
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "spice insecure channels set in XML "
                                        "configuration, but plaintext connection is not available")  # fmt: skip
            opts.append(f"plaintext-channel={name}")
    for value, option in ((g.image_compression, "image-compression"), (g.jpeg_compression, "jpeg-wan-compression"),
                          (g.zlib_compression, "zlib-glz-wan-compression"),
                          (g.playback_compression, "playback-compression"), (g.streaming_mode, "streaming-video")):  # fmt: skip
        if value:
            opts.append(f"{option}={value}")
    if g.clipboard_copypaste == "no":
        opts.append("disable-copy-paste=on")
    if g.filetransfer_enable == "no":
        opts.append("disable-agent-file-xfer=on")
    if g.gl_enable:
        raise _unsupported("SPICE with OpenGL")
    opts.append("seamless-migration=on")
    out = ["-spice", ",".join(opts)]
    if g.keymap:
        out += ["-k", g.keymap]
    return out


def graphics_args(dom: Domain, cfg: GraphicsConfig, lib_dir: str, vnc_port: int | None,
                  rendernode_option: bool = True, secrets: GuestSecrets | None = None) -> list[str]:  # fmt: skip
    """``-vnc``/``-spice``/``-display sdl`` for every display (``vnc_port``: the port of an autoport VNC not
    prepared yet; ``secrets``: the master key and secret driver, for a TLS key's passphrase)."""
    out: list[str] = []
    devices = dom.devices
    audio_id = (devices.audios[0].id or 1) if devices is not None and devices.audios else None
    for g in devices.graphics if devices is not None else []:
        if g.type == "vnc":
            out += _vnc(g, cfg, lib_dir, vnc_port, audio_id, secrets)
        elif g.type == "spice":
            out += _spice(g, cfg, lib_dir)
        elif g.type == "egl-headless":
            # qemuBuildGraphicsEGLHeadlessCommandLine: OpenGL rendered off-screen, shown by another display
            # (a QEMU before 3.1's egl-headless rendernode= picks its node itself: QEMU_CAPS_EGL_HEADLESS_RENDERNODE)
            node = f",rendernode={_escape_commas(g.gl_rendernode)}" if g.gl_rendernode and rendernode_option else ""
            out += ["-display", f"egl-headless{node}"]
        elif g.type == "sdl":
            # qemuBuildGraphicsSDLCommandLine (its DISPLAY and XAUTHORITY: ``sdl_environment``)
            out += ["-full-screen"] if g.fullscreen else []
            gl = "" if g.gl_enable is None else f",gl={'on' if g.gl_enable else 'off'}"
            out += ["-display", f"sdl{gl}"]
        else:
            raise _unsupported(f"graphics type '{g.type}'")
    return out


def sdl_environment(dom: Domain) -> dict[str, str]:
    """The X display an SDL window opens on, passed to QEMU in its environment as libvirt passes it."""
    env: dict[str, str] = {}
    for g in dom.devices.graphics if dom.devices is not None else []:
        if g.type == "sdl":
            if g.xauth:
                env["XAUTHORITY"] = g.xauth
            if g.display:
                env["DISPLAY"] = g.display
    return env


# ---------------------------------------------------------------------------- after start
def set_passwords(dom: Domain, cfg: GraphicsConfig, monitor: _Executes) -> None:
    """Give QEMU the display passwords (XML first, else ``qemu.conf``), with their expiry."""
    for g in dom.devices.graphics if dom.devices is not None else []:
        if g.type not in ("vnc", "spice"):
            continue
        password = g.passwd if g.passwd is not None else (cfg.vnc_password if g.type == "vnc" else cfg.spice_password)
        if password is None:
            continue
        args: dict[str, Any] = {"protocol": g.type, "password": password}
        if g.type == "spice" and g.connected:
            args["connected"] = g.connected
        monitor.execute("set_password", args)
        expires = "never"
        if g.passwdValidTo:
            moment = datetime.datetime.fromisoformat(g.passwdValidTo).replace(tzinfo=datetime.UTC)
            expires = str(int(moment.timestamp()))
        monitor.execute("expire_password", {"protocol": g.type, "time": expires})
