"""``<audio>`` -> QEMU ``-audiodev``: the backend, its own options, and per-direction settings.

The XML and QEMU name the same settings differently (``pulseaudio`` is
``pa``, ``file`` is ``wav``, ``bufferLength`` is ``buffer-length``); which
per-direction options a backend has follows QEMU's audiodev schema.
"""

from __future__ import annotations

from typing import Any

from pyvirt.conf.domain_devices import Audio, AudioIO
from pyvirt.errors import ErrorCode, NotSupportedError

__all__ = ["audiodev_props"]

_DRIVERS = {"none": "none", "alsa": "alsa", "coreaudio": "coreaudio", "jack": "jack", "oss": "oss",
            "pulseaudio": "pa", "sdl": "sdl", "spice": "spice", "file": "wav", "dbus": "dbus"}  # fmt: skip
# per backend, its per-direction options: (XML attribute, QEMU key)
_DIRECTION_OPTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "alsa": (("dev", "dev"),),
    "coreaudio": (("bufferCount", "buffer-count"),),
    "jack": (
        ("serverName", "server-name"),
        ("clientName", "client-name"),
        ("connectPorts", "connect-ports"),
        ("exactName", "exact-name"),
    ),
    "oss": (("dev", "dev"), ("bufferCount", "buffer-count"), ("tryPoll", "try-poll")),
    "pulseaudio": (("name", "name"), ("streamName", "stream-name"), ("latency", "latency")),
    "sdl": (("bufferCount", "buffer-count"),),
}


def _direction(kind: str, io: AudioIO) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attr, key in (("mixingEngine", "mixing-engine"), ("fixedSettings", "fixed-settings"), ("voices", "voices"),
                      ("bufferLength", "buffer-length"), ("frequency", "frequency"), ("channels", "channels"),
                      ("format", "format"), *_DIRECTION_OPTIONS.get(kind, ())):  # fmt: skip
        value = getattr(io, attr)
        if value is not None:
            out[key] = value
    return out


def audiodev_props(audio: Audio) -> dict[str, Any]:
    kind = audio.type or "none"
    driver = _DRIVERS.get(kind)
    if driver is None:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"audio type '{kind}' is not supported")
    props: dict[str, Any] = {"id": f"audio{audio.id or 1}", "driver": driver}
    if audio.timer_period is not None:
        props["timer-period"] = audio.timer_period
    if kind == "oss":
        for attr, key in (("tryMMap", "try-mmap"), ("exclusive", "exclusive"), ("dspPolicy", "dsp-policy")):
            if getattr(audio, attr) is not None:
                props[key] = getattr(audio, attr)
    elif kind == "pulseaudio" and audio.serverName:
        props["server"] = audio.serverName
    elif kind == "file" and audio.path:
        props["path"] = audio.path
    for name, io in (("in", audio.input), ("out", audio.output)):
        if io is not None:
            direction = _direction(kind, io)
            if direction:
                props[name] = direction
    return props
