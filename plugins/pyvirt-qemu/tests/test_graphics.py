"""VNC and SPICE displays on real QEMU: ports, listen addresses, passwords, the SPICE agent and USB redirection."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lxml import etree

import pyvirt

GUEST = """<domain type='{virt}'><name>{name}</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices>
<graphics type='vnc' autoport='yes' passwd='vnc-secret'/>
<graphics type='spice' autoport='yes' {spice_passwd}><image compression='off'/><mouse mode='client'/></graphics>
<channel type='spicevmc'><target type='virtio'/></channel>
<redirdev bus='usb' type='spicevmc'/>
<video><model type='qxl'/></video>
</devices></domain>"""


def _pyvirsh(root: Path, *args: str) -> str:
    return subprocess.run([sys.executable, "-m", "pyvirt.cli.main", "-c", f"qemu:///embed?root={root}", *args],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip


def _rfb_security_types(port: int) -> list[int]:
    """The VNC server's greeting and the security types it offers (RFB 3.8)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        assert s.recv(12) == b"RFB 003.008\n"
        s.sendall(b"RFB 003.008\n")
        count = s.recv(1)[0]
        return list(s.recv(count))


def test_vnc_and_spice_listen_where_the_live_xml_says(
    conn: pyvirt.Connection, virt_type: str, qemu_root: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    dom = conn.create_domain(GUEST.format(virt=virt_type, name="displays", spice_passwd="passwd='spice-secret'"))
    other = conn.create_domain(GUEST.format(virt=virt_type, name="displays2", spice_passwd=""))
    live = etree.fromstring(dom.xml_desc().encode())
    vnc, spice = live.findall("devices/graphics")
    vnc_port, spice_port = int(vnc.get("port", "0")), int(spice.get("port", "0"))
    assert vnc_port >= 5900 and spice_port >= 5900 and vnc_port != spice_port
    assert vnc.find("listen").get("address") == "127.0.0.1" == spice.get("listen")  # type: ignore[union-attr]
    assert spice.get("tlsPort") is None  # spice_tls is off in qemu.conf: no TLS port allocated
    assert live.xpath("string(devices/audio/@type)") == "spice"  # SPICE carries the sound
    assert live.xpath("string(devices/channel/target/@name)") == "com.redhat.spice.0"
    # a second guest gets other ports
    other_ports = {
        int(g.get("port", "0")) for g in etree.fromstring(other.xml_desc().encode()).findall("devices/graphics")
    }
    assert not other_ports & {vnc_port, spice_port}

    mon = guest_monitor(dom)
    info = mon.execute("query-vnc")
    assert (info["host"], info["service"], info["auth"]) == ("127.0.0.1", str(vnc_port), "vnc")
    assert _rfb_security_types(vnc_port) == [2]  # VNC authentication: the password is required
    spice_info = mon.execute("query-spice")
    assert (spice_info["port"], spice_info["auth"]) == (spice_port, "spice")
    pid = int((qemu_root / "run" / "qemu" / "displays.pid").read_text())
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    # client mouse mode waits for the guest's agent, so QEMU still reports 'server': its option is checked instead
    assert argv[argv.index(b"-spice") + 1] == (
        f"port={spice_port},addr=127.0.0.1,agent-mouse=on,image-compression=off,seamless-migration=on".encode()
    )
    # without a password SPICE runs without tickets
    assert guest_monitor(other).execute("query-spice")["auth"] == "none"
    chardevs = {c["label"]: c["filename"] for c in mon.execute("query-chardev")}
    assert chardevs["charchannel0"] == "spicevmc" and chardevs["charredir0"] == "spicevmc"
    assert mon.execute("qom-get", {"path": "/machine/peripheral/redir0", "property": "chardev"}) == "charredir0"
    with socket.create_connection(("127.0.0.1", spice_port), timeout=5):
        pass  # SPICE accepts connections there

    assert _pyvirsh(qemu_root, "vncdisplay", "displays") == f"127.0.0.1:{vnc_port - 5900}"
    assert _pyvirsh(qemu_root, "domdisplay", "displays", "--all").splitlines() == [
        f"vnc://127.0.0.1:{vnc_port - 5900}", f"spice://127.0.0.1:{spice_port}"]  # fmt: skip
    assert _pyvirsh(qemu_root, "domdisplay", "displays", "--type", "spice", "--include-password") == (
        f"spice://127.0.0.1:{spice_port}?password=spice-secret"
    )
    dom.destroy()
    other.destroy()


def _self_signed(directory: Path) -> None:
    """A CA and a server certificate signed by it, where QEMU's tls-creds-x509 looks for them."""
    directory.mkdir()

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=pyvirt test CA",
            "-keyout", "ca-key.pem", "-out", "ca-cert.pem")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server-key.pem",
            "-out", "server.csr")  # fmt: skip
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca-cert.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
            "-days", "2", "-out", "server-cert.pem")  # fmt: skip


def test_vnc_over_tls_with_a_websocket(
    qemu_root: Path, virt_type: str, tmp_path: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    """qemu.conf's vnc_tls: QEMU gets a tls-creds-x509 object and offers only VeNCrypt; the websocket port listens."""
    certs = tmp_path / "pki"
    _self_signed(certs)
    (qemu_root / "etc").mkdir(parents=True)
    (qemu_root / "etc" / "qemu.conf").write_text(f'vnc_tls = 1\nvnc_tls_x509_cert_dir = "{certs}"\n')
    with pyvirt.open(f"qemu:///embed?root={qemu_root}") as conn:
        dom = conn.create_domain(f"""<domain type='{virt_type}'><name>vnctls</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<graphics type='vnc' autoport='yes' websocket='-1' sharePolicy='force-shared'/></devices></domain>""")
        vnc = etree.fromstring(dom.xml_desc().encode()).find("devices/graphics")
        assert vnc is not None
        port, websocket = int(vnc.get("port", "0")), int(vnc.get("websocket", "0"))
        assert port >= 5900 and websocket >= 5700
        assert _rfb_security_types(port) == [19]  # VeNCrypt: TLS before anything else
        info = guest_monitor(dom).execute("query-vnc-servers")[0]
        assert info["auth"] == "vencrypt" and info["vencrypt"] == "x509-none"
        assert any(s["websocket"] and s["service"] == str(websocket) for s in info["server"])
        with socket.create_connection(("127.0.0.1", websocket), timeout=5):
            pass
        dom.destroy()
