"""How a domiftune change merges into a NIC's <bandwidth>: libvirt's two rules, side by side.

A definition (the test driver's, QEMU's persistent one) keeps the direction a
change does not name, and loses a direction named with a 0 average. A running
NIC's device loses all of its shaping when it is set again, so the QEMU
driver carries over every direction the change does not name, and keeps no
<bandwidth> when nothing is left.
"""

from __future__ import annotations

import pytest
from lxml import etree

from pyvirt.conf.bandwidth_params import as_params, merged_definition, merged_live, parse_change
from pyvirt.conf.domain_devices import Bandwidth
from pyvirt.conf.xmlmodel import parse_model
from pyvirt.errors import ErrorCode, InvalidArgumentError
from pyvirt.plugin.typed_params import TypedParam, TypedParamType

OLD = "<bandwidth><inbound average='100' peak='200' burst='10'/><outbound average='50'/></bandwidth>"


def band(xml: str) -> Bandwidth:
    return parse_model(Bandwidth, etree.fromstring(xml))


def change(**values: int) -> list[TypedParam]:
    return [TypedParam(k.replace("_", "."), TypedParamType.UINT, v) for k, v in values.items()]


def shown(bw: Bandwidth | None) -> dict[str, int]:
    return {p.field: int(p.value) for p in as_params(bw) if p.value}


def test_a_new_inbound_replaces_the_old_one_whole_in_both_rules() -> None:
    """peak and burst are not inherited from the old inbound: the direction is replaced."""
    new = parse_change(change(inbound_average=300))
    expected = {"inbound.average": 300, "outbound.average": 50}
    assert shown(merged_definition(band(OLD), new)) == shown(merged_live(band(OLD), new)) == expected


def test_a_zero_average_removes_the_direction() -> None:
    new = parse_change(change(outbound_average=0))
    assert shown(merged_definition(band(OLD), new)) == {"inbound.average": 100, "inbound.peak": 200,
                                                         "inbound.burst": 10}  # fmt: skip
    assert shown(merged_live(band(OLD), new)) == shown(merged_definition(band(OLD), new))


def test_peak_alone_names_nothing_and_changes_nothing() -> None:
    new = parse_change(change(inbound_peak=999))
    assert merged_definition(band(OLD), new) == band(OLD)
    assert merged_live(band(OLD), new) == band(OLD)


def test_the_rules_differ_when_nothing_is_left() -> None:
    """A definition without <bandwidth> gets the (empty) change, as libvirt stores an empty struct; the
    running NIC keeps none."""
    new = parse_change(change(inbound_average=0, outbound_average=0))
    assert merged_definition(None, new) == Bandwidth()
    assert merged_live(band(OLD), new) is None


def test_an_inbound_floor_alone_makes_the_direction() -> None:
    new = parse_change(change(inbound_floor=7))
    assert shown(merged_live(None, new)) == {"inbound.floor": 7}


def test_libvirts_validation_of_the_parameters() -> None:
    with pytest.raises(InvalidArgumentError) as exc:
        parse_change([TypedParam("outbound.floor", TypedParamType.UINT, 1)])
    assert exc.value.code == ErrorCode.ARGUMENT_UNSUPPORTED
    assert exc.value.message == "argument unsupported: parameter 'outbound.floor' not supported"
