"""The firewall of a NAT or routed network, as one nftables table per network.

libvirt 9.0 writes iptables rules; pyvirt writes the same policy with
``nft``: traffic from the network's subnet may leave through the host and
replies may come back (``forward``), and in NAT mode what leaves is
masqueraded behind the host's address. Keeping each network in its own
table makes removal one command and leaves other rules alone.
"""

from __future__ import annotations

import ipaddress
import subprocess

from pyvirt.errors import ErrorCode, OperationFailedError

__all__ = ["add_rules", "remove_rules", "table_name"]


def table_name(uuid: str) -> str:
    return "pyvirt_net_" + uuid.replace("-", "")[:12]


def _nft(script: str) -> None:
    done = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"nft failed: {done.stderr.strip()}")


def add_rules(table: str, bridge: str, subnet: ipaddress.IPv4Network, nat: bool) -> None:
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
    subprocess.run(["nft", "delete", "table", "ip", table], capture_output=True, check=False)
