"""Reading ``xl list``: the table as xl 4.17 prints it (captured in the nested dom0), names with spaces included."""

from __future__ import annotations

import pytest
from pyvirt_xen.xl import parse_xl_info, parse_xl_list

from pyvirt.errors import Error, ErrorCode

XL_LIST = """Name                                        ID   Mem VCPUs\tState\tTime(s)
Domain-0                                     0   768     2     r-----      15.5
pv life                                      3   192     1     --p---       0.4
pv-shut                                      4   192     1     ---s--       2.1
"""


def test_xl_list_table() -> None:
    dom0, paused, shut = parse_xl_list(XL_LIST)
    assert (dom0.name, dom0.id, dom0.memory_mib, dom0.vcpus, dom0.cpu_seconds) == ("Domain-0", 0, 768, 2, 15.5)
    assert not dom0.paused and not dom0.shut_down and not dom0.crashed
    assert paused.name == "pv life" and paused.id == 3 and paused.paused
    assert shut.shut_down and not shut.paused


@pytest.mark.parametrize("text", ["", "xl: command not found\n", XL_LIST + "Domain-0 0 768\n"])
def test_output_that_is_not_xl_lists_table_is_an_error_not_a_guess(text: str) -> None:
    with pytest.raises(Error) as err:
        parse_xl_list(text)
    assert err.value.code == ErrorCode.INTERNAL_ERROR
    assert "cannot parse the output of 'xl list'" in err.value.message


# the start of `xl info` in the nested dom0 (Xen 4.17 under QEMU/TCG, -smp 2 -m 1536)
XL_INFO = """host                   : (none)
release                : 6.1.0-57-amd64
machine                : x86_64
nr_cpus                : 2
max_cpu_id             : 1
nr_nodes               : 1
cores_per_socket       : 2
threads_per_core       : 1
cpu_mhz                : 2596.142
virt_caps              : pv hvm gnttab-v1 gnttab-v2
total_memory           : 1535
free_memory            : 748
xen_major              : 4
xen_minor              : 17
xen_extra              : .7
xen_caps               : xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64
"""


def test_xl_info_keys_and_values() -> None:
    info = parse_xl_info(XL_INFO)
    assert info["nr_cpus"] == "2" and info["cpu_mhz"] == "2596.142" and info["xen_minor"] == "17"
    assert info["xen_caps"] == "xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64"


def test_xl_info_without_what_nodeinfo_needs_is_an_error() -> None:
    with pytest.raises(Error) as err:
        parse_xl_info(XL_INFO.replace("nr_cpus ", "nr_cpuz "))
    assert "cannot parse the output of 'xl info': no nr_cpus" in err.value.message
