"""Learning a guest port's IP address: libvirt's ``nwfilter_learnipaddr.c`` and (in part) ``nwfilter_dhcpsnoop.c``.

A binding whose filters need ``IP`` when nothing gives it (clean-traffic
without parameters) is learned from the guest's traffic, as
``virNWFilterDoInstantiate`` chooses by the ``CTRL_IP_LEARNING`` parameter:

- ``any`` (the default): the port gets libvirt's basic rules, a thread watches
  it until a frame shows the guest's address (:func:`sniff.read_frame`), then
  the filter is instantiated with that address and the thread ends;
- ``dhcp``: DHCP-only rules (``DHCPSERVER`` restricts the servers); the
  address a DHCP ACK gives is used and the thread keeps watching: a new ACK
  replaces the address, a lease that runs out unrenewed puts the DHCP-only
  rules back;
- ``none``: libvirt's unresolvable-variable error naming ``IP``.

The learned address lives in memory only, per port, as libvirt's
virNWFilterIPAddrMap: a rebuild (filter redefined, SIGHUP) uses it, the
binding's XML does not show it, and pyvirtd's restart learns again. A thread
ends with its binding (delete, or the binding file gone), with its port (the
socket reports the device gone: the port then gets libvirt's drop-all rules),
and with the driver (state cleanup, the embedded driver's close); every stop
joins the thread.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pyvirt.conf.nwfilter_binding import Binding
from pyvirt.errors import Error, ErrorCode, ErrorDomain
from pyvirt_nwfilter import nft
from pyvirt_nwfilter.sniff import DETECT_DHCP, DHCP_ACK, basic_rules, dhcp_only_rules, drop_all_rules, read_frame

__all__ = [
    "Request",
    "join",
    "learned_address",
    "learning",
    "learning_mode",
    "remember",
    "rules_without_address",
    "start",
    "stop",
    "stop_all",
]

log = logging.getLogger("pyvirt.nwfilter")

_POLL_SECONDS = 0.5  # libvirt's PKT_TIMEOUT_MS: how soon a stop is noticed
_ETH_P_ALL = 0x0003
_JOIN_SECONDS = 10.0

# (driver run directory, port) -> the running request / the learned address
_lock = threading.Lock()
_requests: dict[tuple[str, str], Request] = {}
_learned: dict[tuple[str, str], str] = {}

# what the driver does with a result, under its lock: (request, address or None when the port has none now,
# failed: the port gets libvirt's drop-all rules)
Deliver = Callable[["Request", "str | None", bool], None]


@dataclass
class Request:
    """One port being watched (libvirt's virNWFilterIPAddrLearnReq / virNWFilterSnoopReq)."""

    key: tuple[str, str]
    binding: Binding
    mode: str
    servers: list[str]
    binding_file: str
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def current(self) -> bool:
        """Still the port's request: a result of a request stopped meanwhile is thrown away."""
        with _lock:
            return _requests.get(self.key) is self


def _error(code: ErrorCode, detail: str) -> Error:
    return Error(code, detail, domain=ErrorDomain.NWFILTER)


def learning_mode(binding: Binding) -> tuple[str, list[str]]:
    """CTRL_IP_LEARNING's value (case as given is ignored, as STRCASEEQ) and the DHCPSERVER list."""
    values = binding.params.get("CTRL_IP_LEARNING")
    mode = values[0] if values else "any"
    if mode.lower() == "none":
        raise _error(ErrorCode.INTERNAL_ERROR, "Cannot instantiate filter due to unresolvable variables or "
                                               "unavailable list elements: IP")  # fmt: skip
    if mode.lower() not in ("any", "dhcp"):
        raise _error(ErrorCode.PARSE_FAILED, f"filter '{binding.filter}' learning value '{mode}' invalid.")
    if mode.lower() == "any":
        return "any", []
    servers = list(binding.params.get("DHCPSERVER", []))
    for server in servers:
        try:
            socket.inet_pton(socket.AF_INET, server)
        except OSError:  # ebtables refuses it in libvirt, which then reports this
            raise _error(ErrorCode.INTERNAL_ERROR, "applyDHCPOnlyRules failed - spoofing not protected!") from None
    return mode.lower(), servers


def learned_address(run: str, portdev: str) -> str | None:
    with _lock:
        return _learned.get((run, portdev))


def learning(run: str, portdev: str) -> Request | None:
    with _lock:
        return _requests.get((run, portdev))


def start(run: str, binding: Binding, binding_file: str, deliver: Deliver) -> None:
    """Watch the binding's port and apply the learning rules (nothing when the port does not exist, as libvirt
    instantiates nothing then; nothing new when the port is already watched)."""
    mode, servers = learning_mode(binding)
    key = (run, binding.portdev)
    if learning(run, binding.portdev) is not None:
        return
    missing_tools = _error(ErrorCode.CONFIG_UNSUPPORTED if mode == DETECT_DHCP else ErrorCode.INTERNAL_ERROR,
                           "IP parameter must be provided since snooping the IP address does not work possibly due "
                           "to missing tools")  # fmt: skip
    try:  # libvirt's words when pcap cannot be used (its code differs between the two modes)
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ALL))
    except OSError:
        raise missing_tools from None
    try:
        try:
            sock.bind((binding.portdev, 0))
        except OSError as e:
            sock.close()
            if e.errno in (errno.ENODEV, errno.ENXIO):  # virNetDevExists: no port, nothing to instantiate
                return
            raise missing_tools from None
        # the socket sees frames from now on, so the rules can let the first address through before it is read
        if mode == DETECT_DHCP:
            nft.load(binding.portdev, dhcp_only_rules(binding.portdev, binding.mac, servers))
        else:
            nft.load(binding.portdev, basic_rules(binding.portdev, binding.mac))
        request = Request(key, binding, mode, servers, binding_file)
        request.thread = threading.Thread(target=_watch, args=(request, sock, deliver), daemon=True,
                                          name=f"ip-learn {binding.portdev}")  # fmt: skip
        with _lock:
            _requests[key] = request
        request.thread.start()
    except BaseException:
        sock.close()
        with _lock:
            _requests.pop(key, None)
        raise


def stop(run: str, portdev: str) -> threading.Thread | None:
    """End the port's learning and forget its address (libvirt's teardown); the thread to join once the driver's
    lock is released (its last result may be waiting for that lock)."""
    with _lock:
        request = _requests.pop((run, portdev), None)
        _learned.pop((run, portdev), None)
    if request is None:
        return None
    request.stop.set()
    return request.thread


def join(thread: threading.Thread | None) -> None:
    if thread is not None and thread is not threading.current_thread():
        thread.join(_JOIN_SECONDS)
        if thread.is_alive():
            log.error("IP address learning thread '%s' did not end", thread.name)


def stop_all(run: str | None = None) -> None:
    """Every request of the driver at ``run`` (all when None) ended and joined: state cleanup, embed close."""
    with _lock:
        keys = [k for k in _requests if run is None or k[0] == run]
    for thread in [stop(*k) for k in keys]:
        join(thread)
    with _lock:
        for k in [k for k in _learned if run is None or k[0] == run]:
            del _learned[k]


def remember(request: Request, address: str | None) -> None:
    """The address as the port's (None: forgotten); called by the driver's deliver with its lock held."""
    with _lock:
        if address is None:
            _learned.pop(request.key, None)
        else:
            _learned[request.key] = address


def _finish(request: Request) -> None:
    with _lock:
        if _requests.get(request.key) is request:
            del _requests[request.key]


def _watch(request: Request, sock: socket.socket, deliver: Deliver) -> None:
    """The learning thread (learnIPAddressThread; the DHCP snooping loop for ``dhcp``)."""
    lease_end: float | None = None
    poller = select.poll()
    poller.register(sock, select.POLLIN | select.POLLERR)
    checked = time.monotonic()
    try:
        with sock:
            while not request.stop.is_set():
                now = time.monotonic()
                if now - checked >= _POLL_SECONDS:
                    checked = now
                    if not os.path.exists(request.binding_file):
                        return  # the binding was deleted by another process of the driver
                if lease_end is not None and now >= lease_end:
                    lease_end = None  # the lease ran out: back to DHCP only until the next ACK
                    deliver(request, None, False)
                events = poller.poll(_POLL_SECONDS * 1000)
                if not events:
                    continue
                if events[0][1] & (select.POLLHUP | select.POLLERR):
                    raise OSError(errno.ENODEV, "the port is gone")  # libvirt: "Error from FD probably dev deleted"
                seen = read_frame(sock.recv(65535), request.binding.mac)
                if seen is None:
                    continue
                if request.mode == DETECT_DHCP:
                    if seen.how != DETECT_DHCP or seen.dhcp_type != DHCP_ACK:  # the snooper installs leases from ACKs
                        continue
                    if request.servers and seen.server not in request.servers:
                        continue
                    lease_end = time.monotonic() + seen.lease if seen.lease else None
                    deliver(request, seen.address, False)
                    continue
                deliver(request, seen.address, False)
                return
    except OSError as e:
        # ENETDOWN/ENODEV: the port went away or down (libvirt shows no error then)
        if e.errno not in (errno.ENETDOWN, errno.ENODEV, errno.ENXIO):
            log.error("encountered an error on interface %s: %s", request.binding.portdev, e.strerror)
        with contextlib.suppress(Error):
            deliver(request, None, True)
    except Error as e:  # the rules could not be written: the thread ends, as libvirt's does
        log.error("IP address learning on interface %s failed: %s", request.binding.portdev, e.message)
    finally:
        _finish(request)


def rules_without_address(request: Request, failed: bool) -> str:
    """The port's rules when it has no address: drop-all after a failure, DHCP-only when a lease ran out."""
    binding = request.binding
    if failed:
        return drop_all_rules(binding.portdev)
    return dhcp_only_rules(binding.portdev, binding.mac, request.servers)
