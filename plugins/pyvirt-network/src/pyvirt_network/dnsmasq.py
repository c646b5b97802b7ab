"""DHCP and DNS for a virtual network: one dnsmasq per network, configured as libvirt configures it.

The configuration file mirrors libvirt's (``strict-order``, ``bind-dynamic``
on the bridge only, the DHCP ranges with their netmask, static hosts,
``dhcp-authoritative``, a lease limit from the ranges' sizes); dnsmasq
daemonizes itself and writes its pid file, so it outlives the process that
started the network, as the network does. Leases go to a file in the driver's
state directory, where ``net-dhcp-leases`` style tools can read them.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import time

from pyvirt.conf.network import Network
from pyvirt.errors import ErrorCode, OperationFailedError
from pyvirt.local_driver.paths import DriverPaths
from pyvirt.local_driver.status_file import atomic_write
from pyvirt.util.command import Command

__all__ = ["lease_file", "needs_dnsmasq", "read_leases", "start_dnsmasq", "stop_dnsmasq"]


def _files(paths: DriverPaths, name: str) -> tuple[str, str, str]:
    base = os.path.join(paths.lib, "dnsmasq")
    return (os.path.join(base, f"{name}.conf"), os.path.join(paths.run, f"{name}-dnsmasq.pid"),
            os.path.join(base, f"{name}.leases"))  # fmt: skip


def lease_file(paths: DriverPaths, name: str) -> str:
    return _files(paths, name)[2]


def read_leases(paths: DriverPaths, name: str) -> list[tuple[int, str, str, str, str]]:
    """dnsmasq's lease file: (expiry, MAC, address, hostname, client id) per line; ``*`` means none."""
    out = []
    with contextlib.suppress(FileNotFoundError), open(lease_file(paths, name), encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 5 and fields[0].isdigit():
                out.append((int(fields[0]), fields[1], fields[2], "" if fields[3] == "*" else fields[3],
                            "" if fields[4] == "*" else fields[4]))  # fmt: skip
    return out


def needs_dnsmasq(net: Network) -> bool:
    """Any IPv4 address with DHCP, or DNS not switched off (libvirt always serves DNS on its own networks)."""
    ips = [ip for ip in net.ips or [] if ip.family in (None, "ipv4")]
    return bool(ips) and (net.dns_enable is not False or any(ip.dhcp_ranges for ip in ips))


def _config(net: Network, bridge: str, leases: str) -> str:
    """dnsmasq reads all of it as root at start; static hosts are inline (libvirt keeps them in a hosts file
    that ``net-update`` rewrites before a SIGHUP; pyvirt's ``net-update`` restarts dnsmasq instead), so it
    never needs to read our state directory after dropping to nobody."""
    lines = ["strict-order", "except-interface=lo", "bind-dynamic", f"interface={bridge}", f"dhcp-leasefile={leases}"]
    if net.domain_name:
        lines += [f"domain={net.domain_name}", "expand-hosts"]
    if net.dns_enable is False:
        lines.append("port=0")
    total = 0
    for ip in net.ips or []:
        if ip.family not in (None, "ipv4") or not ip.address:
            continue
        iface = ipaddress.IPv4Interface(f"{ip.address}/{ip.prefix or ip.netmask or 24}")
        for rng in ip.dhcp_ranges or []:
            lines.append(f"dhcp-range={rng.start},{rng.end},{iface.network.netmask}")
            start, end = ipaddress.IPv4Address(rng.start or "0.0.0.0"), ipaddress.IPv4Address(rng.end or "0.0.0.0")
            total += int(end) - int(start) + 1
        for host in ip.dhcp_hosts or []:
            lines.append("dhcp-host=" + ",".join(x for x in (host.mac, host.ip, host.name) if x))
    if total:
        lines += ["dhcp-no-override", "dhcp-authoritative", f"dhcp-lease-max={total}"]
    return "\n".join(lines) + "\n"


def start_dnsmasq(net: Network, bridge: str, paths: DriverPaths) -> None:
    """Write the configuration and start dnsmasq (it daemonizes itself); nothing is left when it fails."""
    binary = shutil.which("dnsmasq") or next((p for p in ("/usr/sbin/dnsmasq",) if os.path.exists(p)), None)
    if binary is None:
        raise OperationFailedError(ErrorCode.OPERATION_FAILED,
                                   "dnsmasq is needed for DHCP and DNS on this network (Debian's dnsmasq-base)")  # fmt: skip
    name = net.name or ""
    conf, pidfile, leases = _files(paths, name)
    os.makedirs(os.path.dirname(conf), mode=0o755, exist_ok=True)
    atomic_write(conf, _config(net, bridge, leases).encode(), 0o644)
    if not os.path.exists(leases):
        atomic_write(leases, b"", 0o644)
    try:
        Command([binary, "--test", f"--conf-file={conf}"]).pass_env("PATH").run(timeout=30)  # its own words on errors
        # in the foreground under our daemonizing (no orphaned intermediate process for PID 1 to reap);
        # it opens the lease file as root, then runs as nobody
        cmd = Command([binary, f"--conf-file={conf}", "--keep-in-foreground"]).pass_env("PATH")
        cmd.set_pidfile(pidfile).daemonize().run_async()
        time.sleep(0.05)
        if not _running(pidfile, conf):
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"dnsmasq for network '{name}' exited at once")
    except Exception:
        stop_dnsmasq(net, paths)
        raise


def _running(pidfile: str, conf: str) -> int | None:
    """The pid of this network's dnsmasq, if it runs (its command line names the configuration file)."""
    try:
        with open(pidfile, encoding="ascii") as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return pid if conf.encode() in f.read() else None
    except (OSError, ValueError):
        return None


def stop_dnsmasq(net: Network, paths: DriverPaths) -> None:
    name = net.name or ""
    conf, pidfile, _leases = _files(paths, name)
    pid = _running(pidfile, conf)
    if pid is not None:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while _running(pidfile, conf) is not None and time.monotonic() < deadline:
            time.sleep(0.02)
    for path in (pidfile, conf):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
