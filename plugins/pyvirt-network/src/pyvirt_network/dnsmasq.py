"""DHCP and DNS for a virtual network: one dnsmasq per network, configured as libvirt configures it.

Three files per network, as libvirt writes them (its networkxml2confdata
outputs are the reference): the configuration (``strict-order``,
``bind-dynamic`` on the bridge only, the DHCP ranges with their netmask,
``dhcp-authoritative``, a lease limit from the ranges' sizes, TFTP and boot
file), the DHCP hosts file (``dhcp-hostsfile=``, one ``mac,ip,name`` per
line: dnsmasq reads each line there as a ``dhcp-host`` and nothing else) and
the extra hosts file for ``<dns><host>`` (``addn-hosts=``, hosts(5) lines).
Every line goes through :func:`pyvirt_network.config_file.write_config`.

dnsmasq records its pid in the network's own pid file in the driver's run
directory (``pid-file=``, libvirt's ``/run/libvirt/network/NAME.pid``), never
in the host's ``/run/dnsmasq.pid``, which belongs to the host's own dnsmasq.
It runs in the foreground under our daemonizing, so it outlives the process
that started the network, as the network does. Leases go to a file in the
driver's state directory, where ``net-dhcp-leases`` reads them.

dnsmasq reads both hosts files after dropping root for its unprivileged user
(``nobody`` on Debian); starting refuses, with a reason, a network whose hosts
that user could not read, instead of a dnsmasq that silently serves none.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import pwd
import select
import shutil
import signal
import stat
import time

from pyvirt.conf.network import DhcpHost, DnsSrv, Ip, Network, ip_prefix
from pyvirt.errors import ErrorCode, NotSupportedError, OperationFailedError
from pyvirt.local_driver.paths import DriverPaths
from pyvirt.local_driver.status_file import atomic_write
from pyvirt.util.command import Command
from pyvirt_network.config_file import write_config

__all__ = ["DnsmasqFiles", "conf_contents", "config_lines", "dnsmasq_files", "hosts_file_paths", "lease_file", "needs_dnsmasq", "read_leases",
           "start_dnsmasq", "stop_dnsmasq"]  # fmt: skip

# dnsmasq's compiled-in user on Debian (it writes no user= line, as libvirt writes none)
_DNSMASQ_USER = "nobody"


def hosts_file_paths(directory: str, name: str) -> tuple[str, str]:
    """dnsmasqContextNew's DHCP hosts and extra hosts file names: the network's name XML-escaped, as libvirt's
    virBufferEscapeString writes it (``a"b`` gives ``a&quot;b.hostsfile``), so both files are where libvirt has them."""
    escaped = "".join(_XML_ESCAPES.get(c, c) for c in name)
    return f"{directory}/{escaped}.hostsfile", f"{directory}/{escaped}.addnhosts"


_XML_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "'": "&apos;", '"': "&quot;"}


class DnsmasqFiles:
    """Where one network's dnsmasq files live: state under ``lib/dnsmasq``, the pid file under ``run``."""

    def __init__(self, paths: DriverPaths, name: str) -> None:
        base = os.path.join(paths.lib, "dnsmasq")
        self.conf = os.path.join(base, f"{name}.conf")
        self.hostsfile, self.addnhosts = hosts_file_paths(base, name)
        self.leases = os.path.join(base, f"{name}.leases")
        self.pidfile = paths.pidfile(name)
        # before per-network pid files: a dnsmasq started then is still found and stopped
        self.old_pidfile = os.path.join(paths.run, f"{name}-dnsmasq.pid")


def dnsmasq_files(paths: DriverPaths, name: str) -> DnsmasqFiles:
    return DnsmasqFiles(paths, name)


def lease_file(paths: DriverPaths, name: str) -> str:
    return DnsmasqFiles(paths, name).leases


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


def _ptr_domain(ip: Ip) -> str:
    """virSocketAddrPTRDomain: whole octets (IPv4) or nibbles (IPv6) of the network, reversed, under
    in-addr.arpa or ip6.arpa; a prefix that cuts one is refused with libvirt's words."""
    prefix = ip_prefix(ip)
    address = ipaddress.ip_address(ip.address or "")
    step = 8 if address.version == 4 else 4
    if prefix % step:
        family = "IPv4" if address.version == 4 else "IPv6"
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported configuration: PTR domain for {family} "
                                f"network with prefix {prefix} cannot be automatically created", verbatim=True)  # fmt: skip
    if address.version == 4:
        parts = str(address).split(".")[: prefix // 8]
        return ".".join([*reversed(parts), "in-addr.arpa"])
    nibbles = address.packed.hex()[: prefix // 4]
    return ".".join([*reversed(nibbles), "ip6.arpa"])


def _v4(net: Network) -> list[Ip]:
    return [ip for ip in net.ips or [] if ip.family in (None, "ipv4") and ip.address and ":" not in ip.address]


def _is_v6(ip: Ip) -> bool:
    return ":" in (ip.address or "")


def _lease_time(expiry: int | None, unit: str | None) -> str | None:
    """networkBuildDnsmasqLeaseTime: ``infinite`` for 0, else the number and the unit's first letter."""
    if expiry is None:
        return None
    return "infinite" if expiry == 0 else f"{expiry}{(unit or 'minutes')[0]}"


def _range_size(start: str, end: str) -> int:
    """virSocketAddrGetRange for a range the definition's checks accepted: the number of addresses in it."""
    return int(ipaddress.ip_address(end)) - int(ipaddress.ip_address(start)) + 1


def _dhcp_host_line(host: DhcpHost, v6: bool) -> str:
    """hostsfileAdd: one dnsmasq ``dhcp-host`` line (``mac,ip,name``; ``id:ID,name,[ip]`` for IPv6)."""
    ip = host.ip or ""
    if v6:
        head = ",".join(x for x in (f"id:{host.id}" if host.id else None, host.name) if x)
        line = f"{head},[{ip}]"
    elif host.name and host.mac:
        line = f"{host.mac},{ip},{host.name}"
    elif host.name:
        line = f"{host.name},{ip}"
    else:
        line = f"{host.mac},{ip}"
    lease = _lease_time(host.lease_expiry, host.lease_unit)
    return f"{line},{lease}" if lease else line


def _conf_dhcp(conf: list[str], ip: Ip | None, hosts: list[str]) -> int:
    """networkDnsmasqConfDHCP: the ranges (netmask for IPv4, prefix for IPv6), static-only DHCP, the hosts,
    and the IPv4-only options; returns how many leases the ranges hold."""
    if ip is None:
        return 0
    v6 = _is_v6(ip)
    prefix = ip_prefix(ip)
    leases = 0
    for rng in ip.dhcp_ranges or []:
        start, end = rng.start or "", rng.end or ""
        mask = str(prefix) if v6 else str(ipaddress.IPv4Network(f"0.0.0.0/{prefix}").netmask)
        lease = _lease_time(rng.lease_expiry, rng.lease_unit)
        conf.append(f"dhcp-range={start},{end},{mask}" + (f",{lease}" if lease else ""))
        leases += _range_size(start, end)
    if not ip.dhcp_ranges and ip.dhcp_hosts:
        # static hosts only: dnsmasq's DHCP still has to be switched on (for dhcp-hosts=)
        conf.append(f"dhcp-range={ip.address},static" + (f",{prefix}" if v6 else ""))
    hosts += [_dhcp_host_line(host, v6) for host in ip.dhcp_hosts or [] if host.ip]
    if not v6:
        if ip.dhcp_ranges or ip.dhcp_hosts:
            conf += ["dhcp-no-override", "dhcp-authoritative"]
        if ip.dhcp_bootp_file:
            server = f",,{ip.dhcp_bootp_server}" if ip.dhcp_bootp_server else ""
            conf.append(f"dhcp-boot={ip.dhcp_bootp_file}{server}")
    return leases


def _srv_line(srv: DnsSrv) -> str:
    line = f"srv-host=_{srv.service}._{srv.protocol}" + (f".{srv.domain}" if srv.domain is not None else "")
    if srv.target is not None and srv.target != ".":  # none or ".": the service is not offered (RFC 2782)
        line += f",{srv.target}"
        # positional: a later value present means the earlier ones are written (port 1 by default)
        if srv.port or srv.priority or srv.weight:
            line += f",{srv.port or 1}"
        if srv.priority or srv.weight:
            line += f",{srv.priority or 0}"
        if srv.weight:
            line += f",{srv.weight}"
    return line


def _one_dhcp(ips: list[Ip], family: str) -> Ip | None:
    found: Ip | None = None
    for ip in ips:
        if ip.dhcp_ranges or ip.dhcp_hosts:
            if found is not None:
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported configuration: For {family}, "
                                        "multiple DHCP definitions cannot be specified.", verbatim=True)  # fmt: skip
            found = ip
    return found


def conf_contents(
    net: Network, bridge: str, pidfile: str | None, hostsfile: str, addnhosts: str
) -> tuple[list[str], list[str], list[str]]:
    """networkDnsmasqConfContents: the configuration, the DHCP hosts and the extra DNS hosts, line by line.

    The configuration is libvirt's, line for line (its networkxml2conf test data is the reference):
    its header, then the directives in libvirt's order. Addresses come from the parsed definition in
    canonical form; text values were checked at define and are checked again, line by line, when written.
    """
    name = net.name or ""
    want_dns = net.dns_enable is not False
    conf = ["##WARNING:  THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE",
            "##OVERWRITTEN AND LOST.  Changes to this configuration should be made using:",
            f"##    virsh net-edit {name}", "## or other application using the libvirt API.", "##",
            "## dnsmasq conf file created by libvirt", "strict-order"]  # fmt: skip
    if not want_dns:
        conf.append("port=0")
    if want_dns and net.dns_forwarders:
        no_resolv = False  # an address for every unclaimed name: the host's resolv.conf is not needed
        for fwd in net.dns_forwarders:
            where = f"/{fwd.domain}/" if fwd.domain is not None else ""
            conf.append(f"server={where}{fwd.addr if fwd.addr else '#'}")
            no_resolv = no_resolv or (bool(fwd.addr) and fwd.domain is None)
        if no_resolv:
            conf.append("no-resolv")
    if net.domain_name:
        if net.domain_local_only:
            conf.append(f"local=/{net.domain_name}/")
        conf += [f"domain={net.domain_name}", "expand-hosts"]
    if want_dns:
        conf += [f"local=/{_ptr_domain(ip)}/" for ip in net.ips or [] if ip.localPtr]
    if want_dns and net.dns_forward_plain_names is False:
        conf += ["domain-needed", "local=//"]
    if pidfile:
        conf.append(f"pid-file={pidfile}")
    conf += ["except-interface=lo", "bind-dynamic", f"interface={bridge}"]
    if not net.forward_mode:  # isolated: no default route, no forwarding of queries, no IPv6 route
        conf += ["dhcp-option=3", "no-resolv", "ra-param=*,0,0"]
    if want_dns:
        conf += [f"txt-record={txt.name},{txt.value}" for txt in net.dns_txts or []]
        conf += [_srv_line(srv) for srv in net.dns_srvs or []]
    v6 = [ip for ip in net.ips or [] if _is_v6(ip)]
    tftp = False
    ipv4_dhcp: Ip | None = None
    for ip in net.ips or []:  # in definition order, as libvirt looks for the first DHCP of each family
        if _is_v6(ip):
            continue
        if ip.dhcp_ranges or ip.dhcp_hosts:
            if ipv4_dhcp is not None:
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "unsupported configuration: For IPv4, "
                                        "multiple DHCP definitions cannot be specified.", verbatim=True)  # fmt: skip
            ipv4_dhcp = ip
        if ip.tftp_root:
            if not tftp:
                conf.append("enable-tftp")
                tftp = True
            conf.append(f"tftp-root={ip.tftp_root}")
    ipv6_dhcp = _one_dhcp(v6, "IPv6")
    hosts: list[str] = []
    leases = _conf_dhcp(conf, ipv4_dhcp, hosts) + _conf_dhcp(conf, ipv6_dhcp, hosts)
    if leases > 0:
        conf.append(f"dhcp-lease-max={leases}")
    addn: dict[str, list[str]] = {}
    for dns_host in net.dns_hosts or []:
        if dns_host.ip:
            addn.setdefault(dns_host.ip, []).extend(h.name or "" for h in dns_host.hostnames or [])
    if ipv4_dhcp is not None or ipv6_dhcp is not None:
        # written even with no static host yet, for hosts added at run time
        conf.append(f"dhcp-hostsfile={hostsfile}")
    if want_dns:
        conf.append(f"addn-hosts={addnhosts}")
    if net.mtu:
        conf.append(f"dhcp-option=option:mtu,{net.mtu}")
    if ipv6_dhcp is not None:
        conf.append("enable-ra")
    else:
        conf += [f"dhcp-range={ip.address},ra-only" for ip in v6 if not (ip.dhcp_ranges or ip.dhcp_hosts)]
    conf += net.dnsmasq_options or []
    return conf, hosts, ["".join(f"{x}\t" for x in (ip, *names)) for ip, names in addn.items()]


def config_lines(net: Network, bridge: str, files: DnsmasqFiles) -> tuple[list[str], list[str], list[str]]:
    """The configuration, DHCP hosts file and extra hosts file pyvirt writes for a running network:
    libvirt's contents with the network's own pid file (the lease file is named on dnsmasq's command line)."""
    return conf_contents(net, bridge, files.pidfile, files.hostsfile, files.addnhosts)


def _readable_by_dnsmasq(path: str) -> bool:
    """Whether dnsmasq's user can reach and read ``path`` (mode bits along the way; no ACLs are set by pyvirt)."""
    try:
        user = pwd.getpwnam(_DNSMASQ_USER)
    except KeyError:
        return True  # not Debian's layout: nothing to predict, dnsmasq will say
    if user.pw_uid == 0:
        return True

    def allowed(st: os.stat_result, bit: int) -> bool:
        if st.st_uid == user.pw_uid:
            return bool(st.st_mode & (bit << 6))
        if st.st_gid == user.pw_gid:
            return bool(st.st_mode & (bit << 3))
        return bool(st.st_mode & bit)

    parts = os.path.realpath(path).split(os.sep)
    for i in range(1, len(parts)):
        directory = os.sep.join(parts[:i]) or os.sep
        if not allowed(os.stat(directory), stat.S_IXOTH):
            return False
    return allowed(os.stat(path), stat.S_IROTH)


def _write_files(net: Network, bridge: str, files: DnsmasqFiles) -> None:
    conf, hosts, addn = config_lines(net, bridge, files)
    os.makedirs(os.path.dirname(files.conf), mode=0o755, exist_ok=True)
    os.makedirs(os.path.dirname(files.pidfile), mode=0o755, exist_ok=True)
    write_config(files.conf, conf)
    # written even when empty, as libvirt writes them, so that a later update has a file to fill
    write_config(files.hostsfile, hosts)
    write_config(files.addnhosts, addn)
    for path, entries, what in ((files.hostsfile, hosts, "DHCP hosts"), (files.addnhosts, addn, "DNS hosts")):
        if entries and not _readable_by_dnsmasq(path):
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"dnsmasq reads the {what} of network "
                                       f"'{net.name}' as user '{_DNSMASQ_USER}', who cannot read '{path}' (a "
                                       "directory above it is not searchable by others)")  # fmt: skip
    if not os.path.exists(files.leases):
        atomic_write(files.leases, b"", 0o644)


def start_dnsmasq(net: Network, bridge: str, paths: DriverPaths) -> None:
    """Write the files and start dnsmasq (in the foreground, daemonized by us); nothing is left when it fails."""
    binary = shutil.which("dnsmasq") or next((p for p in ("/usr/sbin/dnsmasq",) if os.path.exists(p)), None)
    if binary is None:
        raise OperationFailedError(ErrorCode.OPERATION_FAILED,
                                   "dnsmasq is needed for DHCP and DNS on this network (Debian's dnsmasq-base)")  # fmt: skip
    name = net.name or ""
    files = DnsmasqFiles(paths, name)
    cmd: Command | None = None
    try:
        _write_files(net, bridge, files)
        Command([binary, "--test", f"--conf-file={files.conf}", f"--dhcp-leasefile={files.leases}"]).pass_env(
            "PATH"
        ).run(timeout=30)  # its own words
        # in the foreground under our daemonizing (no orphaned intermediate process for PID 1 to reap).
        # dnsmasq writes its pid file itself (pid-file=) once it is set up; ours, needed to daemonize, has
        # another name and goes at once, so the network's pid file is only ever dnsmasq's, and start waits
        # for it: a stop right after start then finds the process it must stop
        with contextlib.suppress(FileNotFoundError):
            os.unlink(files.pidfile)
        starter = f"{files.pidfile}.start"
        cmd = Command(
            [binary, f"--conf-file={files.conf}", f"--dhcp-leasefile={files.leases}", "--keep-in-foreground"]
        ).pass_env("PATH")
        try:
            cmd.set_pidfile(starter).daemonize().run_async()
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(starter)
        deadline = time.monotonic() + 10
        while _running(files.pidfile, files.conf) != cmd.pid:
            if not _alive(cmd.pid):
                raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"dnsmasq for network '{name}' exited at once")
            if time.monotonic() > deadline:
                raise OperationFailedError(ErrorCode.OPERATION_FAILED,
                                           f"dnsmasq for network '{name}' did not write '{files.pidfile}'")  # fmt: skip
            time.sleep(0.02)
    except Exception:
        if cmd is not None and cmd.pid is not None:
            _terminate(cmd.pid, files.conf)  # started but not recorded: the pid file would not find it
        stop_dnsmasq(net, paths)
        raise


def _alive(pid: int | None) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _ours(pid: int, conf: str) -> bool:
    """Whether ``pid`` is a live dnsmasq of this configuration (a zombie's command line is empty)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f"--conf-file={conf}".encode() in f.read().split(b"\0")
    except OSError:
        return False


def _running(pidfile: str, conf: str) -> int | None:
    """The pid of this network's dnsmasq, if it runs; the pid file alone is not trusted (dnsmasq's user
    owns it), the process's command line must name this network's configuration file."""
    try:
        with open(pidfile, encoding="ascii") as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return None
    return pid if _ours(pid, conf) else None


def _wait_gone(pidfd: int, timeout: float) -> bool:
    """A pidfd reads ready once the process has exited, its sockets closed (its command line is
    gone earlier than that, while a new dnsmasq could still find its ports taken)."""
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(int(timeout * 1000)))


def _terminate(pid: int, conf: str) -> None:
    """Stop this network's dnsmasq ``pid`` and wait until it is gone (SIGKILL after 5 s of SIGTERM)."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return  # gone already
    try:
        if not _ours(pid, conf):
            return  # the pid was reused between the two looks
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(pidfd, sig)
            if _wait_gone(pidfd, 5.0):
                return
    finally:
        os.close(pidfd)


def stop_dnsmasq(net: Network, paths: DriverPaths) -> None:
    files = DnsmasqFiles(paths, net.name or "")
    for pidfile in (files.pidfile, files.old_pidfile):
        pid = _running(pidfile, files.conf)
        if pid is not None:
            _terminate(pid, files.conf)
    for path in (files.pidfile, files.old_pidfile, files.conf, files.hostsfile, files.addnhosts):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
