"""libvirt 9.0.0's qemuxml2argv x86_64-latest cases through pyvirt-qemu's command-line builder.

``python plugins/pyvirt-qemu/tests/conformance_argv.py`` (run by ``nox -s
conformance``) compares, token by token, libvirt's expected ``.args`` with
the argv this driver builds for the same XML, after normalising what differs
by construction (the environment block, the monitor fd, per-run paths). It
prints the pass rate, the reasons cases are refused, and the option where
each remaining mismatch starts. Error cases (``.err``) pass when pyvirt
refuses the XML too. The number is reported as it is: matching libvirt's
argv byte for byte (device addresses, node numbering, sandbox, audio, ...)
is work still ahead, and this is the yardstick for it.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pyvirt_qemu.block_nodes
import pyvirt_qemu.domain_validation
import pyvirt_qemu.graphics
from pyvirt_qemu.command_line import build_command_line
from pyvirt_qemu.command_line_devices import chardev_fds_wanted
from pyvirt_qemu.domain_defaults import apply_defaults
from pyvirt_qemu.emulator_caps import EmulatorCaps
from pyvirt_qemu.graphics import GraphicsConfig, prepare_graphics
from pyvirt_qemu.memory_backends import HugetlbfsMount

sys.path.insert(0, str(Path(__file__).resolve().parent))

from libvirt_qemu_cases import argv_cases, argv_paths, caps_for, case_environment

from pyvirt.conf.domain import parse_domain
from pyvirt.errors import Error
from pyvirt.testing.sources import libvirt_source


def source_tree() -> Path | None:
    return libvirt_source()


def expected_argv(args_file: Path) -> list[str]:
    """The .args text as argv: continuation lines joined, shell-unquoted, environment dropped."""
    words = shlex.split(args_file.read_text().replace("\\\n", " "))
    while words and "=" in words[0] and not words[0].startswith("-") and not words[0].startswith("/"):
        words.pop(0)
    return words


def normalise(argv: list[str]) -> list[str]:
    return argv


def argv_for(
    xml: Path, caps: EmulatorCaps | None = None, abi_update: bool = True, vnc_host_audio: bool = False
) -> list[str]:
    """Built twice, like the driver does: the first pass names the devices, then the fds are known.

    The fd numbers are libvirt's test suite's own: 1729 for sockets, 1750 for files. ``caps``: the
    capabilities the libvirt test case names (``libvirt_qemu_cases.caps_for``).
    """
    _CURRENT["arch"] = caps.arch if caps is not None else "x86_64"
    # parsed as the case says (ABI_UPDATE or not), then started as a new domain (VIR_QEMU_PROCESS_START_NEW)
    dom = apply_defaults(parse_domain(xml.read_bytes(), url=xml.name), caps=caps, abi_update=abi_update,
                         vnc_host_audio=vnc_host_audio)  # fmt: skip
    lib_dir = f"/tmp/lib/domain--1-{(dom.name or '')[:20]}"  # libvirt's short name
    cfg = _graphics_config(xml.name.removesuffix(".xml"))
    prepare_graphics(dom, cfg, lib_dir, allocate=False)
    # libvirt's mock hands out tap fds from 3 (its virNetDevTapCreate)
    nics = dom.devices.interfaces if dom.devices is not None else []
    taps = {f"tap{i}": 3 for i, nic in enumerate(nics) if nic.type in ("bridge", "ethernet", "network")}
    memory: dict[str, Any] = {"hugepage_mounts": TEST_HUGEPAGES, "host_nodes": set(range(8))}
    memory["caps"] = caps
    memory["tpm_socket"] = "/dev/test"  # qemuxml2argvtest.c points every emulated TPM at this socket
    build_command_line(dom, "/tmp/monitor.sock", fds=taps, vnc_port=5900, lib_dir=lib_dir, graphics_cfg=cfg, **memory)
    fds = {key: 1750 if kind == "file" else 1729 for key, kind, _ in chardev_fds_wanted(dom)} | {"monitor": 1729}
    fds |= taps
    return build_command_line(dom, "/tmp/monitor.sock", fds=fds, vnc_port=5900, lib_dir=lib_dir,
                              graphics_cfg=cfg, **memory).argv  # fmt: skip


# libvirt's test configuration: two hugetlbfs mounts (2 MiB the default) and a host with NUMA nodes 0-7
TEST_HUGEPAGES = [HugetlbfsMount("/dev/hugepages2M", 2048, True), HugetlbfsMount("/dev/hugepages1G", 1048576)]


def _graphics_config(case: str) -> GraphicsConfig:
    """The qemu.conf display settings libvirt's qemuxml2argv test runs with (tests/testutilsqemu.c and the
    per-case switches of qemuxml2argvtest.c): SPICE TLS on with its password set, SASL for one case."""
    vnc_tls = case == "graphics-vnc-tls"
    return GraphicsConfig(spice_tls=True, spice_password="123456", spice_sasl=case == "graphics-spice-sasl",
                          spice_auto_unix_socket=case == "graphics-spice-auto-socket-cfg",
                          vnc_auto_unix_socket=case == "graphics-vnc-auto-socket-cfg",
                          vnc_sasl=case in ("graphics-vnc-sasl", "graphics-vnc-tls"), vnc_sasl_dir="/root/.sasl2",
                          vnc_tls=vnc_tls, vnc_tls_x509_verify=vnc_tls, vnc_tls_x509_cert_dir="/etc/pki/libvirt-vnc")  # fmt: skip


def pretend_host_arch() -> str:
    """The host libvirt's test pretends while it builds the current case's command line."""
    return "aarch64" if _CURRENT["arch"] in ("aarch64", "armv7l") else "x86_64"


_CURRENT = {"arch": "x86_64"}  # the case argv_for builds


def first_difference(want: list[str], got: list[str]) -> str:
    for i, (w, g) in enumerate(zip(want, got, strict=False)):
        if w != g:
            option = next((want[j] for j in range(i, -1, -1) if want[j].startswith("-")), w)
            return f"differs at {option}"
    return "differs in length"


def main() -> int:
    """Every run of libvirt's qemuxml2argvtest.c (``libvirt_qemu_cases.argv_cases``), with the caps it names.

    Rows: the x86_64-latest valid cases, the valid cases of every other caps (fake or a caps file), and the
    must-fail cases (a ``.err`` file: refused at all, and refused with libvirt's first error line).
    """
    # libvirt's test suite mocks the host: /dev/cdrom is its only CD-ROM drive
    pyvirt_qemu.block_nodes.is_cdrom = lambda path: path == "/dev/cdrom"
    # qemuxml2argvtest.c runs its ARM cases on a pretend aarch64 host (qemuTestSetHostArch around that block)
    pyvirt_qemu.domain_validation.host_arch = pretend_host_arch
    pyvirt_qemu.graphics.drm_render_node = lambda: "/dev/dri/foo"  # its mocked virHostGetDRMRenderNode
    only = sys.argv[1] if len(sys.argv) > 1 else None
    tree = source_tree()
    if tree is None:
        print("qemuxml2argv: libvirt 9.0.0 source unavailable (pyvirt.testing.sources cannot fetch it here); skipped")
        return 0
    rows: dict[str, list[int]] = {"latest": [0, 0], "other": [0, 0]}
    reasons: dict[str, Counter[str]] = {"latest": Counter(), "other": Counter()}
    err_total = err_ok = err_same = 0
    err_reasons: Counter[str] = Counter()
    for case in argv_cases(tree):
        if only and only not in (case.name, case.name + case.suffix):
            continue
        xml, args_file, err_file = argv_paths(tree, case)
        caps = caps_for(tree, case)
        if case.expect_failure or case.expect_parse_error:
            err_total += 1
            try:
                argv_for(xml, caps)
            except Error as exc:
                err_ok += 1
                want = err_file.read_text().splitlines()[0] if err_file.exists() else ""
                same = str(exc).splitlines()[0].strip() == want.strip()
                err_same += same
                if not same:
                    err_reasons[f"want {want[:70]!r} got {str(exc).splitlines()[0][:60]!r}"] += 1
            except Exception as exc:
                err_reasons[f"crash: {type(exc).__name__}: {exc}"[:120]] += 1
            else:
                err_reasons["accepted"] += 1
            continue
        row = "latest" if case.caps_label == "x86_64-latest" else "other"
        rows[row][1] += 1
        try:
            with case_environment(case) as vnc_host_audio:
                got = argv_for(xml, caps, "VIR_DOMAIN_DEF_PARSE_ABI_UPDATE" in case.parse_flags, vnc_host_audio)
        except Error as exc:
            reasons[row][f"refused: {exc.code.name}: {str(exc)[:90]}"] += 1
            continue
        except Exception as exc:  # a crash is a finding, not a skip
            reasons[row][f"crash: {type(exc).__name__}: {exc}"[:120]] += 1
            continue
        want = normalise(expected_argv(args_file))
        if want == normalise(got):
            rows[row][0] += 1
        else:
            reasons[row][first_difference(want, normalise(got))] += 1
            if only:
                print("want:", " ".join(want), "\ngot: ", " ".join(got))
    top = int(os.environ.get("PYVIRT_CONFORMANCE_REASONS", "15"))
    for row, title in (("latest", "x86_64-latest, valid cases"), ("other", "every other caps version and arch")):
        ok, total = rows[row]
        print(f"qemuxml2argv {title}: {ok}/{total} argv identical ({100.0 * ok / total if total else 0:.1f}%)")
        for why, count in reasons[row].most_common(top):
            print(f"  {count:6d}  {why}")
    print(f"qemuxml2argv must-fail cases: {err_ok}/{err_total} refused, {err_same} with libvirt's first error line")
    for why, count in err_reasons.most_common(top):
        print(f"  {count:6d}  {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
