"""``pyvirsh blkiotune``: show or change a domain's block I/O tunables, as virsh's cmdBlkiotune.

With no value to change it prints every parameter the driver reports
(``weight``, then each per-device list as ``path,value,...``) in virsh's
``%-15s: %s`` layout; otherwise it sends the given ones in virsh's order
(weight, then the five device lists) and prints nothing.
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.cli.tunables import IMPACT_OPTS, fetch_params, impact_flags, parse_c_int
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

# option -> VIR_DOMAIN_BLKIO_* field, in the order virsh adds them
_DEVICE_OPTS = (
    ("device-weights", "device_weight"),
    ("device-read-iops-sec", "device_read_iops_sec"),
    ("device-write-iops-sec", "device_write_iops_sec"),
    ("device-read-bytes-sec", "device_read_bytes_sec"),
    ("device-write-bytes-sec", "device_write_bytes_sec"),
)


@command(
    "blkiotune", "Get or set blkio parameters",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("weight", "IO Weight", kind="intstring"),
    Opt("device-weights", "per-device IO Weights, in the form of /path/to/device,weight,..."),
    Opt("device-read-iops-sec", "per-device read I/O limit per second, in the form of "
        "/path/to/device,read_iops_sec,..."),
    Opt("device-write-iops-sec", "per-device write I/O limit per second, in the form of "
        "/path/to/device,write_iops_sec,..."),
    Opt("device-read-bytes-sec", "per-device bytes read per second, in the form of "
        "/path/to/device,read_bytes_sec,..."),
    Opt("device-write-bytes-sec", "per-device bytes wrote per second, in the form of "
        "/path/to/device,write_bytes_sec,..."),
    *IMPACT_OPTS,
    description="Get or set the current blkio parameters for a guest domain.\n"
                "    To get the blkio parameters use following command: \n\n"
                "    virsh # blkiotune <domain>",
)  # fmt: skip
def cmd_blkiotune(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.plugin.typed_params import TypedParam, TypedParamType, format_typed_value

    flags = impact_flags(o)
    dom = get_domain(s, o["domain"])
    params: list[TypedParam] = []
    if o["weight"] is not None:
        weight = parse_c_int(o["weight"])
        if weight is None:
            raise CommandError(f"Numeric value '{o['weight']}' for <weight> option is malformed or out of range")
        if weight <= 0:
            raise CommandError(f"Invalid value of {weight} for I/O weight")
        params.append(TypedParam("weight", TypedParamType.UINT, weight))
    for opt, field in _DEVICE_OPTS:
        if o[opt] is not None:
            if o[opt] == "":  # vshCommandOptStringQuiet refuses an empty value
                raise CommandError("Unable to parse string parameter")
            params.append(TypedParam(field, TypedParamType.STRING, o[opt]))
    if params:
        try:
            dom.set_blkio_parameters(params, flags)
        except Error as exc:
            raise CommandError("Unable to change blkio parameters", exc.message) from None
        return
    for p in fetch_params("blkio", flags, dom.blkio_parameters):
        s.out(f"{p.field:<15}: {format_typed_value(p)}")
