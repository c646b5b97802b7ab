"""``pyvirtd``: the resident daemon that owns pyvirt's drivers, as libvirtd owns libvirt's.

Start-up follows libvirtd's order: options, configuration, logging, daemonize
(the parent waits on a pipe until the child is serving or has failed, so
``pyvirtd -d`` returns an honest exit status), pid file, sockets (or the ones
systemd passed), driver state initialisation, then serve. SIGTERM/SIGINT stop
serving, release every client and the drivers' state and exit 0, leaving
guests running; SIGHUP re-reads the configuration and reloads the drivers.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable

from pyvirt.daemon.config import DaemonConfig, load_daemon_config
from pyvirt.daemon.pidfile import PidFile
from pyvirt.daemon.server import Server
from pyvirt.daemon.sockets import DaemonPaths, Listener, activated_sockets, daemon_paths, open_listener
from pyvirt.errors import Error, ErrorCode, ErrorDomain, NotSupportedError
from pyvirt.util.logsetup import configure_logging

__all__ = ["main"]

log = logging.getLogger("pyvirt.daemon")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pyvirtd",
        description="pyvirt's management daemon: hosts the installed drivers and serves libvirt's RPC "
        "protocol on its Unix sockets, so that virsh, libvirt-python and pyvirsh share one state.",
    )
    p.add_argument("-d", "--daemon", action="store_true", help="run in the background (detach)")
    p.add_argument("-f", "--config", metavar="FILE", help="configuration file (default: pyvirtd.conf of the instance)")
    p.add_argument("-p", "--pid-file", metavar="FILE", help="pid file (default: RUNDIR/pyvirtd.pid)")
    p.add_argument(
        "-t", "--timeout", metavar="SECS", type=int,
        help="exit after SECS seconds without clients and without running guests",
    )  # fmt: skip
    p.add_argument(
        "--root", metavar="DIR", help="a private instance whose configuration, state and sockets live under DIR"
    )
    p.add_argument("--session", action="store_true", help="the per-user session instance even when run as root")
    p.add_argument(
        "-l", "--listen", action="store_true",
        help="also listen on the network: TLS (listen_tls, port 16514) and, when enabled, TCP (listen_tcp, 16509)",
    )  # fmt: skip
    p.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    p.add_argument("-V", "--version", action="store_true", help="print the version and exit")
    return p


def _daemonize() -> Callable[[int, str], None]:
    """Fork into the background; the returned function reports the child's start-up to the parent.

    The parent waits on a pipe for a status byte and the error text, prints
    the text and exits with the status: ``pyvirtd -d`` fails like ``pyvirtd``.
    """
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid > 0:
        os.close(wfd)
        chunks = []
        while chunk := os.read(rfd, 4096):
            chunks.append(chunk)
        os.waitpid(pid, 0)
        data = b"".join(chunks)
        if len(data) > 1:
            os.write(2, data[1:])
        os._exit(data[0] if data else 1)
    os.close(rfd)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)

    def report(status: int, message: str = "") -> None:
        with contextlib.suppress(OSError):
            os.write(wfd, bytes([status]) + (f"pyvirtd: {message}\n".encode() if message else b""))
            os.close(wfd)

    return report


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _no_report(status: int, message: str) -> None:
    """Start-up status when not detached: the exit status and stderr say it all."""


def _listeners(paths: DaemonPaths, config: DaemonConfig) -> list[Listener]:
    activated = activated_sockets(paths)
    if activated is not None:
        from pyvirt.daemon.sockets import prepare_activated_inet

        try:
            prepare_activated_inet(activated, config, paths.root, paths.config_file)
        except BaseException:
            for listener in activated:
                listener.close()
            raise
        return activated
    rw = open_listener(paths.rw_socket, config.unix_sock_rw_perms, config.unix_sock_group, read_only=False)
    try:
        ro = open_listener(paths.ro_socket, config.unix_sock_ro_perms, config.unix_sock_group, read_only=True)
    except BaseException:
        rw.close()
        raise
    return [rw, ro]


def _notify_systemd() -> None:
    """READY=1 on ``$NOTIFY_SOCKET`` (Type=notify units), so systemd knows the sockets are served."""
    addr = os.environ.pop("NOTIFY_SOCKET", None)
    if not addr:
        return
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
        s.sendto(b"READY=1\n", addr)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.version:
        from importlib.metadata import version

        print(f"pyvirtd (pyvirt) {version('pyvirt')}")
        return 0
    paths = daemon_paths(root=args.root, system=False if args.session else None)
    if args.config:
        paths = DaemonPaths(paths.run_dir, args.config, paths.root, paths.system)
    report: Callable[[int, str], None] = _no_report
    try:
        config = load_daemon_config(paths.config_file)
        configure_logging(config.log_level, config.log_filters, config.log_outputs, verbose=args.verbose)
    except Error as e:
        print(f"pyvirtd: {e.message}", file=sys.stderr)
        return 1
    if args.daemon:
        report = _daemonize()
    pidfile = PidFile(args.pid_file or paths.pid_file)
    listeners: list[Listener] = []
    state = None
    try:
        pidfile.acquire()
        if args.listen and os.environ.get("LISTEN_PID") == str(os.getpid()):
            raise NotSupportedError(
                ErrorCode.CONFIG_UNSUPPORTED,
                "--listen parameter not permitted with systemd activation sockets, "
                "see 'man pyvirtd' for further guidance",
                domain=ErrorDomain.CONF,
                verbatim=True,
            )
        if args.listen:  # bound before the Unix sockets: a client that finds those finds these too
            from pyvirt.daemon.sockets import open_inet_listeners

            listeners = open_inet_listeners(config, paths.root, paths.config_file)
        listeners += _listeners(paths, config)
        from pyvirt.daemon.remote_program import RemoteProgram
        from pyvirt.daemon.state import DaemonState
        from pyvirt.opening import serve_in_process

        serve_in_process()
        # Until the event loop takes the signals over, SIGTERM during the drivers' start-up (reconnecting,
        # autostarting) ends start-up cleanly: the finally below still releases what was set up.
        signal.signal(signal.SIGTERM, _terminate)
        state = DaemonState(paths)
        state.initialize()
        server = Server(
            max_clients=config.max_clients,
            max_workers=config.max_workers,
            prio_workers=config.prio_workers,
            max_client_requests=config.max_client_requests,
            keepalive_interval=config.keepalive_interval,
            keepalive_count=config.keepalive_count,
            idle_timeout=args.timeout,
            busy=state.busy,
        )
        server.add_program(RemoteProgram(state))
        from pyvirt.daemon.qemu_program import QemuProgram

        server.add_program(QemuProgram())  # libvirt-qemu's procedures, on the remote program's connections
        from pyvirt.daemon.lxc_program import LxcProgram

        server.add_program(LxcProgram())  # libvirt-lxc's virDomainLxcOpenNamespace, likewise

        def on_hup() -> None:
            try:
                new = load_daemon_config(paths.config_file)
                configure_logging(new.log_level, new.log_filters, new.log_outputs, verbose=args.verbose)
            except Error as e:
                log.error("reload: %s", e.message)
            assert state is not None
            state.reload()

        server.loop.add_signal_handler(signal.SIGTERM, server.stop)
        server.loop.add_signal_handler(signal.SIGINT, server.stop)
        server.loop.add_signal_handler(signal.SIGHUP, on_hup)

        def ready() -> None:
            log.info("pyvirtd %d serving on %s", os.getpid(), ", ".join(li.path for li in listeners))
            _notify_systemd()
            report(0, "")

        server.run(listeners, ready)
    except (Error, OSError) as e:
        message = e.message if isinstance(e, Error) else f"cannot use '{e.filename}': {e.strerror}"
        log.error("%s", message)
        print(f"pyvirtd: {message}", file=sys.stderr)
        report(1, message)
        return 1
    finally:
        if state is not None:
            state.cleanup()
        for listener in listeners:
            listener.close()
        pidfile.release()
    return 0


def console_main() -> None:
    sys.exit(main())
