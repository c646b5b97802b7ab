"""The firewall of a NAT or routed network, as one nftables table per network.

libvirt 9.0 writes iptables rules; pyvirt writes the same policy with
``nft``: traffic from the network's subnet may leave through the host and
replies may come back (``forward``), and in NAT mode what leaves is
masqueraded behind the host's address. Keeping each network in its own
table makes removal one command and leaves other rules alone.
"""

from __future__ import annotations

import ipaddress

from pyvirt.errors import ErrorCode, NotSupportedError, OperationFailedError
from pyvirt.util.command import Command

__all__ = ["add_rules", "remove_rules", "table_name"]


def table_name(uuid: str) -> str:
    return "pyvirt_net_" + uuid.replace("-", "")[:12]


def _nft(script: str) -> None:
    done = Command(["nft", "-f", "-"]).pass_env_common().set_stdin(script.encode()).capture_stderr().run(check=False)
    if done.exit_status != 0:
        err = done.stderr.decode(errors="replace").strip()
        raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"nft failed: {err}")


def add_rules(table: str, bridge: str, subnet: ipaddress.IPv4Network, nat: bool) -> None:
    """The bridge's name is quoted in the nft script; nft strings have no escape for a quote, so a name
    with one (Linux allows it in interface names) or with a control character is refused, never written."""
    if any(c in '"\\' or ord(c) < 0x20 or c == "\x7f" for c in bridge):
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported configuration: bridge name "
                                f"{bridge!r} cannot be used in nftables rules", verbatim=True)  # fmt: skip
    net = str(subnet)
    masquerade = (f"    chain postrouting {{ type nat hook postrouting priority srcnat; policy accept;\n"
                  f"      ip saddr {net} ip daddr != {net} masquerade\n    }}\n") if nat else ""  # fmt: skip
    _nft(f"""table ip {table} {{
{masquerade}    chain forward {{ type filter hook forward priority filter; policy accept;
      iifname "{bridge}" ip saddr {net} accept
      oifname "{bridge}" ip daddr {net} ct state related,established accept
      oifname "{bridge}" ip daddr {net} {"drop" if nat else "accept"}
    }}
}}
""")


def remove_rules(table: str) -> None:
    Command(["nft", "delete", "table", "ip", table]).pass_env_common().run(check=False)
