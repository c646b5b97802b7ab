"""Smartcards on the command line: a CCID reader (``usb-ccid``) on a USB port, and the card in it.

libvirt's three modes: ``host`` lets QEMU use the host's card through NSS (``ccid-card-emulated`` with the
``nss-emulated`` backend), ``host-certificates`` emulates a card from three NSS certificates (and a database,
``/etc/pki/nssdb`` unless the XML names one), and ``passthrough`` relays a remote card over a character device
(a TCP or unix socket, or SPICE's smartcard channel). The reader is a ``<controller type='ccid'>``; its USB
port comes from ``usb_addresses`` like any other USB device's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import Address, Chardev
from pyvirt.errors import ErrorCode, InternalError, NotSupportedError, XMLError
from pyvirt_qemu.emulator_caps import EmulatorCaps

__all__ = ["DEFAULT_DATABASE", "ccid_controller_args", "check_smartcards", "smartcard_args"]

DEFAULT_DATABASE = "/etc/pki/nssdb"  # VIR_DOMAIN_SMARTCARD_DEFAULT_DATABASE
# the QEMU device each mode needs, and libvirt's flag for it (QEMU_CAPS_CCID_EMULATED / _PASSTHRU)
_MODE_DEVICE = {"host": "ccid-card-emulated", "host-certificates": "ccid-card-emulated",
                "passthrough": "ccid-card-passthru"}  # fmt: skip
_DEVICE_FLAG = {"ccid-card-emulated": "ccid-emulated", "ccid-card-passthru": "ccid-passthru"}


def _j(props: dict[str, Any]) -> str:
    return json.dumps(props, separators=(",", ":"))


def _alias(dev: Any) -> str:
    assert dev.alias is not None and dev.alias.name
    return str(dev.alias.name)


def check_smartcards(dom: Domain, caps: EmulatorCaps | None) -> None:
    """qemuValidateDomainSmartcardDef: one card, in slot 0 of reader 0, of a mode this QEMU has."""
    cards = dom.devices.smartcards if dom.devices is not None else []
    for card in cards:
        attrs = card.address.attrs if card.address is not None else {}
        if len(cards) > 1 or attrs.get("type", "ccid") != "ccid" or int(attrs.get("controller", "0"), 0) != 0 \
                or int(attrs.get("slot", "0"), 0) != 0:  # fmt: skip
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "this QEMU binary lacks multiple smartcard support")
        mode = card.mode or "host"
        if mode not in _MODE_DEVICE:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unknown smartcard mode '{mode}'")
        device = _MODE_DEVICE[mode]
        if caps is not None and not (caps.has_device(device) if caps.probed else caps.has_flag(_DEVICE_FLAG[device])):
            kind = "passthrough" if mode == "passthrough" else "host"
            raise NotSupportedError(
                ErrorCode.CONFIG_UNSUPPORTED, f"this QEMU binary lacks smartcard {kind} mode support"
            )
        if mode == "host-certificates" and len(card.certificates or []) != 3:  # the parser's own rule
            raise XMLError(ErrorCode.XML_ERROR, "host-certificates mode needs exactly three certificates")


def ccid_controller_args(dom: Domain, address_props: Callable[[Address | None], dict[str, Any]]) -> list[str]:
    """The readers, after the USB hubs as libvirt writes them (they sit on the USB bus)."""
    out: list[str] = []
    readers = [c for c in dom.devices.controllers if c.type == "ccid"] if dom.devices is not None else []
    for c in sorted(readers, key=lambda c: c.index or 0):
        out += ["-device", _j({"driver": "usb-ccid", "id": _alias(c)} | address_props(c.address))]
    return out


def smartcard_args(dom: Domain, chardev: Callable[[Chardev, str], list[str]]) -> list[str]:
    """The card (qemuBuildSmartcardCommandLine); ``chardev`` builds a passthrough card's character device."""
    if dom.devices is None or not dom.devices.smartcards:
        return []
    card = dom.devices.smartcards[0]
    alias = _alias(card)
    out: list[str] = []
    mode = card.mode or "host"
    props: dict[str, Any]
    if mode == "host":
        props = {"driver": "ccid-card-emulated", "backend": "nss-emulated"}
    elif mode == "host-certificates":
        names = [c.name or "" for c in card.certificates or []]
        props = {"driver": "ccid-card-emulated", "backend": "certificates", "cert1": names[0], "cert2": names[1],
                 "cert3": names[2], "db": card.database or DEFAULT_DATABASE}  # fmt: skip
    else:
        out += chardev(Chardev(type=card.type, sources=card.sources, protocol=card.protocol), alias)
        props = {"driver": "ccid-card-passthru", "chardev": f"char{alias}"}
    slot = card.address.attrs.get("controller", "0") if card.address is not None else "0"
    reader = next((c for c in dom.devices.controllers if c.type == "ccid" and (c.index or 0) == int(slot, 0)), None)
    if reader is None:
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"Could not find ccid controller with index '{slot}'")
    props |= {"id": alias, "bus": f"{_alias(reader)}.0"}
    return [*out, "-device", _j(props)]
