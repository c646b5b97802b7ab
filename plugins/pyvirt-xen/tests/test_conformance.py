"""libvirt 9.0.0's xlconfigtest and xmconfigtest: the scores reached today may not fall.

Each failing case is listed with the reason it fails today; a case that
starts passing makes its test fail too (move it to the passing side), so the
lists stay true.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conformance_xen import Score, run_libxl, run_native

# corpus -> cases that fail today for a reason other than a refusal (none today), and the minimum passing.
# Every other failing case is refused by name; ``python conformance_xen.py -v`` lists them with the element
# pyvirt's domain model does not map (none today: every case of the three corpora passes).
EXPECTED_FAILURES: dict[str, dict[str, str]] = {
    "xlconfigtest XML -> xl.cfg": {},
    "xlconfigtest xl.cfg -> XML": {},
    "xmconfigtest XML -> xm.cfg": {},
    "xmconfigtest xm.cfg -> XML": {},
    "libxlxml2domconfigtest XML -> libxl JSON": {},
}
MINIMUM = {
    "xlconfigtest XML -> xl.cfg": 39,
    "xlconfigtest xl.cfg -> XML": 45,
    "xmconfigtest XML -> xm.cfg": 32,
    "xmconfigtest xm.cfg -> XML": 36,
    "libxlxml2domconfigtest XML -> libxl JSON": 12,
}


@pytest.fixture(scope="module")
def scores(corpus: Path) -> dict[str, Score]:
    return {s.corpus: s for s in [*run_native(corpus, "xl"), *run_native(corpus, "xm"), run_libxl(corpus)]}


@pytest.mark.parametrize("corpus_name", sorted(MINIMUM))
def test_score_does_not_regress(scores: dict[str, Score], corpus_name: str) -> None:
    score = scores[corpus_name]
    assert len(score.passed) >= MINIMUM[corpus_name], score.failed


@pytest.mark.parametrize("corpus_name", sorted(MINIMUM))
def test_failures_are_refusals_or_known(scores: dict[str, Score], corpus_name: str) -> None:
    """A case that does not match is refused by name (CONFIG_UNSUPPORTED), never converted with something lost."""
    known = EXPECTED_FAILURES[corpus_name]
    for case, reason in scores[corpus_name].failed.items():
        if case in known:
            continue
        assert reason.startswith("NotSupportedError: unsupported configuration:"), (case, reason)


def test_model_additions_carry_xen_settings(scores: dict[str, Score]) -> None:
    """``<hap state='off'/>`` and ``<controller type='xenbus' maxEventChannels>`` (added to pyvirt's models) convert."""
    assert "fullvirt-nohap" in scores["xmconfigtest XML -> xm.cfg"].passed
    assert "fullvirt-nohap" in scores["xmconfigtest xm.cfg -> XML"].passed
    assert "max-eventchannels" in scores["xlconfigtest XML -> xl.cfg"].passed
    assert "max-eventchannels" in scores["xlconfigtest xl.cfg -> XML"].passed


@pytest.mark.parametrize(
    "case",
    ["paravirt-e820_host", "fullvirt-hypervisor-features", "qemu-passthrough", "fullvirt-tsc-timer", "vif-rate",
     "fullvirt-acpi-slic", "fullvirt-pci", "fullvirt-ovswitch-tagged", "fullvirt-ovswitch-trunked"],
)  # fmt: skip
def test_model_additions_convert_both_ways(scores: dict[str, Score], case: str) -> None:
    """``<features><xen>``, ``<timer mode>``, ``<xen:commandline>``, ``<bandwidth>``, ``<os><acpi>``,
    ``<hostdev><driver>``, ``<vlan>`` and ``<virtualport>`` (added to pyvirt's models) convert."""
    assert case in scores["xlconfigtest XML -> xl.cfg"].passed
    assert case in scores["xlconfigtest xl.cfg -> XML"].passed


@pytest.mark.parametrize(("corpus_name", "case"), [
    ("xmconfigtest xm.cfg -> XML", "pci-dev-syntax"), ("xmconfigtest XML -> xm.cfg", "pci-devs"),
    ("libxlxml2domconfigtest XML -> libxl JSON", "moredevs-hvm"),
    ("libxlxml2domconfigtest XML -> libxl JSON", "fullvirt-acpi-slic"),
])  # fmt: skip
def test_pci_passthrough_tsc_and_slic_reach_xm_and_libxl(scores: dict[str, Score], corpus_name: str, case: str) -> None:
    """PCI devices (``<hostdev>`` and ``<interface type='hostdev'>``), ``tsc_mode``, ``acpi_firmware``."""
    assert case in scores[corpus_name].passed
