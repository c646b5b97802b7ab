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

import argparse
import os
import shlex
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyvirt_qemu.block_nodes
import pyvirt_qemu.command_line
import pyvirt_qemu.domain_validation
import pyvirt_qemu.firmware
import pyvirt_qemu.graphics
import pyvirt_qemu.host_devices
import pyvirt_qemu.qemu_secrets
from lxml import etree
from pyvirt_qemu.chardev_tls import ChardevTls
from pyvirt_qemu.command_line import build_command_line
from pyvirt_qemu.command_line_devices import chardev_fds_wanted
from pyvirt_qemu.domain_defaults import apply_defaults
from pyvirt_qemu.emulator_caps import EmulatorCaps
from pyvirt_qemu.firmware import resolve_firmware
from pyvirt_qemu.graphics import GraphicsConfig, prepare_graphics
from pyvirt_qemu.host_cpu_model import HostCpuModel, guest_cpu_for_host_model, update_guest_cpu
from pyvirt_qemu.memory_backends import HugetlbfsMount
from pyvirt_qemu.network_disks import NbdTls
from pyvirt_qemu.qemu_secrets import GuestSecrets
from pyvirt_qemu.tpm_passthrough import tpm_cancel_fd_key, tpm_fd_key
from pyvirt_qemu.vdpa import vdpa_fd_key
from pyvirt_qemu.vhost_user import vhost_user_video_fd_key
from pyvirt_qemu.volume_disks import translate_volume_disks

sys.path.insert(0, str(Path(__file__).resolve().parent))

from libvirt_qemu_cases import argv_cases, argv_paths, caps_for, case_environment

import pyvirt.conf.domain
from pyvirt.conf.domain import parse_domain
from pyvirt.errors import Error, ErrorCode, InternalError
from pyvirt.plugin.records import VolumeInfo
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
    xml: Path,
    caps: EmulatorCaps | None = None,
    abi_update: bool = True,
    vnc_host_audio: bool = False,
    chardev_tls: ChardevTls | None = None,
    incoming: str | None = None,
) -> list[str]:
    """Built twice, like the driver does: the first pass names the devices, then the fds are known.

    The fd numbers are libvirt's test suite's own: 1729 for sockets, 1750 for files. ``caps``: the
    capabilities the libvirt test case names (``libvirt_qemu_cases.caps_for``).
    """
    _CURRENT["arch"] = caps.arch if caps is not None else "x86_64"
    # parsed as the case says (ABI_UPDATE or not), then started as a new domain (VIR_QEMU_PROCESS_START_NEW)
    # (qemuxml2argvtest.c's driver config puts generated channel sockets under /tmp/channel)
    dom = apply_defaults(parse_domain(xml.read_bytes(), url=xml.name), caps=caps, abi_update=abi_update,
                         vnc_host_audio=vnc_host_audio, channel_dir="/tmp/channel")  # fmt: skip
    _update_guest_cpu(dom, caps)
    # qemuProcessPrepareDomainStorage's translation of volume disks, through the test's fake storage driver
    translate_volume_disks(dom, FakeStorage())
    # qemuProcessPrepareDomain's qemuFirmwareFillDomain, as the driver's start does (libvirt's nvram directory)
    resolve_firmware(dom, dom.os.type.machine if dom.os is not None and dom.os.type is not None else "",
                     "/var/lib/libvirt/qemu/nvram")  # fmt: skip
    lib_dir = f"/tmp/lib/domain--1-{(dom.name or '')[:20]}"  # libvirt's short name
    cfg = _graphics_config(xml.name.removesuffix(".xml"))
    prepare_graphics(dom, cfg, lib_dir, allocate=False)
    # libvirt's mock hands out tap fds from 3 (its virNetDevTapCreate)
    nics = dom.devices.interfaces if dom.devices is not None else []
    taps = {f"tap{i}": 3 for i, nic in enumerate(nics) if nic.type in ("bridge", "ethernet", "network")}
    for i, tpm in enumerate(dom.devices.tpms if dom.devices is not None else []):  # the test's host TPM fds
        if tpm.backend_type == "passthrough" and tpm.model != "spapr-tpm-proxy":
            taps |= {tpm_fd_key(i): 1730, tpm_cancel_fd_key(i): 1731}
    vsock = dom.devices.vsock if dom.devices is not None else None
    if vsock is not None:  # qemuxml2argvtest.c's testUpdateQEMUCaps stand-in for opening /dev/vhost-vsock
        vsock.cid_address = 42 if vsock.cid_auto else vsock.cid_address
        taps["vsock"] = 6789
    for i, video in enumerate(dom.devices.videos if dom.devices is not None else []):  # (videoN, as libvirt names)
        if video.driver_name == "vhostuser":  # qemuxml2argvtest.c's vhost-user-gpu helper socket, for each
            taps[vhost_user_video_fd_key(f"video{i}")] = 1729
    for i, nic in enumerate(nics):  # qemuxml2argvmock.c's qemuInterfaceVDPAConnect
        if nic.type == "vdpa":
            taps[vdpa_fd_key(i)] = 1732
    for i, h in enumerate(dom.devices.hostdevs if dom.devices is not None else []):
        if h.type == "scsi_host":  # qemuxml2argvmock.c's virSCSIVHostOpenVhostSCSI: STDERR_FILENO + 1
            taps[pyvirt_qemu.host_devices.vhost_scsi_fd_key(i)] = 3
    memory: dict[str, Any] = {"hugepage_mounts": TEST_HUGEPAGES, "host_nodes": set(range(8))}
    memory["caps"] = caps
    memory["tpm_socket"] = "/dev/test"  # qemuxml2argvtest.c points every emulated TPM at this socket
    memory["chardev_tls"] = chardev_tls or _CHARDEV_TLS.get(xml.name.removesuffix(".xml"))
    memory["incoming"] = incoming
    memory["virtiofsd_started"] = True  # (libvirt's socket path for the virtiofsd it would start; none runs)
    memory["secrets"] = GuestSecrets(lookup=fake_secret_lookup)  # the master key of libvirt's random-bytes mock
    memory["nbd_tls"] = TEST_NBD_TLS
    build_command_line(dom, "/tmp/monitor.sock", fds=taps, vnc_port=5900, lib_dir=lib_dir, graphics_cfg=cfg, **memory)
    # (testutilsqemu.c hands every file 1750, every log file 1751, every listening socket 1729)
    fds = {key: {"file": 1750, "log": 1751}.get(kind, 1729) for key, kind, _ in chardev_fds_wanted(dom)} | {
        "monitor": 1729
    }
    fds |= taps
    return build_command_line(dom, "/tmp/monitor.sock", fds=fds, vnc_port=5900, lib_dir=lib_dir,
                              graphics_cfg=cfg, **memory).argv  # fmt: skip


# qemuxml2argvtest.c's nbdTLSx509certdir, and the key's secret it names before its first NBD TLS case (kept
# for every case after it; none before it has an NBD disk over TLS)
TEST_NBD_TLS = NbdTls(cert_dir="/etc/pki/libvirt-nbd/dummy,path", secret_uuid="6fd3f62d-9fe7-4a4e-a869-7acd6376d8ea")


class FakeStorage:
    """qemuxml2argvtest.c's fake storage driver: a pool is libvirt's ``storagepoolxml2xmlout/NAME.xml`` (``inactive``
    an inactive one), a volume ``TYPE+NAME`` (``block`` when no ``+``) of path ``/some/TYPE/device/NAME``, and
    ``nonexistent`` no volume at all."""

    class Volume:
        def __init__(self, kind: str, name: str) -> None:
            self.kind, self.name = kind, name

        def info(self) -> VolumeInfo:
            names = ("file", "block", "dir", "network", "netdir", "ploop")
            if self.kind not in names:
                raise InternalError(ErrorCode.INTERNAL_ERROR, f"Invalid volume type '{self.kind}'")
            return VolumeInfo(names.index(self.kind), 0, 0)

        def path(self) -> str:
            return f"/some/{self.kind}/device/{self.name}"

    class Pool:
        def __init__(self, name: str, xml: Path | None) -> None:
            self.name, self.xml = name, xml

        def is_active(self) -> bool:
            return self.name != "inactive"

        def xml_desc(self) -> str:
            if self.xml is None:
                raise Error(ErrorCode.NO_STORAGE_POOL, "Storage pool not found")
            return self.xml.read_text()

        def lookup_volume_by_name(self, name: str) -> FakeStorage.Volume:
            if self.name == "inactive":
                raise Error(ErrorCode.OPERATION_INVALID, f"storage pool '{self.name}' is not active")
            if name == "nonexistent":
                raise Error(ErrorCode.NO_STORAGE_VOL, f"no storage vol with matching name '{name}'")
            kind, plus, rest = name.partition("+")
            return FakeStorage.Volume(kind, rest) if plus else FakeStorage.Volume("block", name)

    def lookup_storage_pool_by_name(self, name: str) -> FakeStorage.Pool:
        tree = source_tree()
        if name == "inactive" or tree is None:
            return FakeStorage.Pool(name, None)
        xml = tree / "tests" / "storagepoolxml2xmlout" / f"{name}.xml"
        if not xml.exists():
            raise Error(ErrorCode.NO_STORAGE_POOL, f"File '{xml}' not found")
        return FakeStorage.Pool(name, xml)


# qemuxml2argvtest.c's fakeSecretGetValue: every secret holds this value
FAKE_SECRET_VALUE = b"AQCVn5hO6HzFAhAAq0NCv8jtJcIcE+HOBlMQ1A"


def fake_secret_lookup(usage_type: str, uuid: str | None, usage_id: str | None) -> tuple[str, bytes]:
    """qemuxml2argvtest.c's fake secret driver: any UUID names a secret of usage 'none'; a usage must be a
    volume under /storage/guest_disks/ or one of the two Ceph/iSCSI names its cases use."""
    if uuid is not None:
        return "none", FAKE_SECRET_VALUE
    if usage_type == "volume":
        if not (usage_id or "").startswith("/storage/guest_disks/"):
            raise InternalError(ErrorCode.INTERNAL_ERROR, f"test provided invalid volume storage prefix '{usage_id}'")
    elif usage_id not in ("mycluster_myname", "client.admin secret"):
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"test provided incorrect usage '{usage_id}'")
    return usage_type, FAKE_SECRET_VALUE


# testutilshostcpus.h's cpuDefaultData: the x86_64 host CPU of the fake capabilities (a core2duo and these)
FAKE_HOST_CPU = HostCpuModel("core2duo", "Intel", [("require", name) for name in (
    "ds", "acpi", "ss", "ht", "tm", "pbe", "ds_cpl", "vmx", "est", "tm2", "cx16", "xtpr", "lahf_lm")])  # fmt: skip


def cpu_map_features(model: str) -> frozenset[str]:
    """The features libvirt's CPU map (``src/cpu_map/x86_MODEL.xml`` of its source) gives an x86 model."""
    tree = source_tree()
    path = tree / "src" / "cpu_map" / f"x86_{model}.xml" if tree is not None else None
    if path is None or not path.exists():
        return frozenset()
    return frozenset(str(f.get("name")) for f in etree.parse(str(path)).iter("feature"))


def _update_guest_cpu(dom: Any, caps: EmulatorCaps | None) -> None:
    """qemuProcessUpdateGuestCPU's virCPUUpdate against the test's host CPU, for the fake x86_64 capabilities
    (a caps file describes its host CPU in its own terms, not modelled here)."""
    cpu = dom.cpu
    host_model = caps.cpu_host_model() if caps is not None else None
    if cpu is not None and cpu.mode == "host-model" and host_model is not None:  # a caps file's <hostCPU>
        dom.cpu = guest_cpu_for_host_model(cpu, host_model)  # as the driver's start does
        return
    if caps is None or caps.identity != "libvirt-test-fake" or caps.arch not in ("x86_64", "i686") or cpu is None:
        return
    if cpu.mode == "host-model":
        # the fake capabilities' host-model CPU is the test's host CPU when they offer its model (without it
        # libvirt translates it to another model of its CPU map: not modelled here, left refused); then as the
        # driver's start does (QemuDriver._host_model_cpu)
        if FAKE_HOST_CPU.model in caps.cpu_models:
            dom.cpu = guest_cpu_for_host_model(cpu, FAKE_HOST_CPU)
        return
    if cpu.mode not in (None, "custom") or not (cpu.match == "minimum" or any(
            f.policy == "optional" for f in cpu.features or [])):  # fmt: skip
        return
    host = cpu_map_features(FAKE_HOST_CPU.model) | {name for _p, name in FAKE_HOST_CPU.features}
    dom.cpu = update_guest_cpu(cpu, FAKE_HOST_CPU, host)


# libvirt's test configuration: two hugetlbfs mounts (2 MiB the default) and a host with NUMA nodes 0-7
TEST_HUGEPAGES = [HugetlbfsMount("/dev/hugepages2M", 2048, True), HugetlbfsMount("/dev/hugepages1G", 1048576)]


# qemuxml2argvtest.c turns chardevTLS on around the serial-tcp-tlsx509 cases (verify and the cert dir being
# libvirt's test defaults), and names a secret for the last of them
_CHARDEV_TLS = {
    "serial-tcp-tlsx509-chardev": ChardevTls(enabled=True),
    "serial-tcp-tlsx509-chardev-verify": ChardevTls(enabled=True),
    "serial-tcp-tlsx509-chardev-notls": ChardevTls(enabled=True),
    "serial-tcp-tlsx509-secret-chardev": ChardevTls(enabled=True, secret_uuid="6fd3f62d-9fe7-4a4e-a869-7acd6376d8ea"),
}


def _graphics_config(case: str) -> GraphicsConfig:
    """The qemu.conf display settings libvirt's qemuxml2argv test runs with (tests/testutilsqemu.c and the
    per-case switches of qemuxml2argvtest.c): SPICE TLS on with its password set, SASL for one case."""
    vnc_tls = case in ("graphics-vnc-tls", "graphics-vnc-tls-secret")
    # and names a secret for the key around graphics-vnc-tls-secret (driver.config->vncTLSx509secretUUID)
    vnc_secret = "6fd3f62d-9fe7-4a4e-a869-7acd6376d8ea" if case == "graphics-vnc-tls-secret" else None
    return GraphicsConfig(spice_tls=True, spice_password="123456", spice_sasl=case == "graphics-spice-sasl",
                          spice_auto_unix_socket=case == "graphics-spice-auto-socket-cfg",
                          vnc_auto_unix_socket=case == "graphics-vnc-auto-socket-cfg",
                          vnc_sasl=case in ("graphics-vnc-sasl", "graphics-vnc-tls", "graphics-vnc-tls-secret"),
                          vnc_sasl_dir="/root/.sasl2",
                          vnc_tls=vnc_tls, vnc_tls_x509_verify=vnc_tls, vnc_tls_x509_cert_dir="/etc/pki/libvirt-vnc",
                          vnc_tls_x509_secret_uuid=vnc_secret)  # fmt: skip


def pretend_host_arch() -> str:
    """The host libvirt's test pretends while it builds the current case's command line."""
    return "aarch64" if _CURRENT["arch"] in ("aarch64", "armv7l") else "x86_64"


_CURRENT: dict[str, Any] = {"arch": "x86_64", "tpm": ("1.2", "2.0")}  # the case argv_for builds
# qemuxml2argvtest.c's g_setenv(TEST_TPM_ENV_VAR, ...) around two must-fail runs: swtpm emulates one version only
_TPM_ONLY = {"tpm-emulator": ("2.0",), "tpm-emulator-tpm2": ("1.2",)}


def migrate_uri(extra: dict[str, str]) -> str | None:
    """The ``-incoming`` URI of a case's ARG_MIGRATE_FROM/ARG_MIGRATE_FD, as qemuMigrationDstGetURI makes it
    (``stdio`` is the fd the test names)."""
    source = extra.get("ARG_MIGRATE_FROM", "").strip('"')
    if not source:
        return None
    return f"fd:{extra.get('ARG_MIGRATE_FD', '').strip()}" if source == "stdio" else source


def first_difference(want: list[str], got: list[str]) -> str:
    for i, (w, g) in enumerate(zip(want, got, strict=False)):
        if w != g:
            option = next((want[j] for j in range(i, -1, -1) if want[j].startswith("-")), w)
            return f"differs at {option}"
    return "differs in length"


@contextmanager
def libvirt_test_host() -> Iterator[None]:
    """The host qemuxml2argvtest.c pretends through its mocks, for the duration (restored after)."""
    saved = (pyvirt_qemu.block_nodes.is_cdrom, pyvirt_qemu.domain_validation.host_arch,
             pyvirt_qemu.graphics.drm_render_node, pyvirt_qemu.domain_validation.swtpm_versions,
             pyvirt_qemu.host_devices.host_pci_driver, pyvirt_qemu.firmware.SEARCH_DIRS,
             pyvirt_qemu.firmware.installed, pyvirt_qemu.host_devices.mdev_exists,
             pyvirt.conf.domain.new_uuid, pyvirt_qemu.command_line.wall_clock, pyvirt_qemu.qemu_secrets.random_bytes,
             pyvirt_qemu.host_devices.scsi_generic_path, pyvirt_qemu.host_devices.vhost_scsi_available,
             os.environ.get("TZ"))  # fmt: skip
    # qemuxml2argvmock.c's time(): 1234567890; and qemuxml2argvtest.c's TZ, half an hour west of UTC
    pyvirt_qemu.command_line.wall_clock = lambda: 1234567890.0
    os.environ["TZ"] = "VIR00:30"
    time.tzset()
    # virrandommock.c's virRandomBytes gives bytes 0, 1, 2, ...: virUUIDGenerate's v4 UUID of them
    pyvirt.conf.domain.new_uuid = lambda: "00010203-0405-4607-8809-0a0b0c0d0e0f"
    pyvirt_qemu.qemu_secrets.random_bytes = lambda count: bytes(range(count))  # (the master key and every IV)
    # /dev/cdrom is its only CD-ROM drive
    pyvirt_qemu.block_nodes.is_cdrom = lambda path: path == "/dev/cdrom"
    # its ARM cases run on a pretend aarch64 host (qemuTestSetHostArch around that block)
    pyvirt_qemu.domain_validation.host_arch = pretend_host_arch
    pyvirt_qemu.graphics.drm_render_node = lambda: "/dev/dri/foo"  # its mocked virHostGetDRMRenderNode
    # its mocked swtpm (virTPMSwtpmSetupCapsGet) emulates the versions VIR_TEST_MOCK_FAKE_TPM_VERSION names
    pyvirt_qemu.domain_validation.swtpm_versions = lambda: list(_CURRENT["tpm"])
    # its virpcimock's sysfs: the PCI functions its cases assign exist, and a managed one gets detached
    pyvirt_qemu.host_devices.host_pci_driver = lambda address: "vfio-pci"
    pyvirt_qemu.host_devices.mdev_exists = lambda path: True  # and its mediated devices
    # testCompareXMLToArgvCreateArgs gives every host SCSI device /dev/sg0; its mock opens vhost-scsi
    pyvirt_qemu.host_devices.scsi_generic_path = lambda adapter, bus, target, unit: "/dev/sg0"
    pyvirt_qemu.host_devices.vhost_scsi_available = lambda: True
    # its firmware descriptors (tests/qemufirmwaredata, virFileWrapperAddPrefix), whose files nothing checks
    tree = source_tree()
    if tree is not None:
        data = tree / "tests" / "qemufirmwaredata"
        pyvirt_qemu.firmware.SEARCH_DIRS = (str(data / "usr/share/qemu/firmware"), str(data / "etc/qemu/firmware"))
    pyvirt_qemu.firmware.installed = lambda path: True
    # and its KVM is a capabilities file: whether the host's KVM has SMM is never asked
    saved_smm, pyvirt_qemu.firmware.kvm_smm = pyvirt_qemu.firmware.kvm_smm, lambda: True
    try:
        yield
    finally:
        pyvirt_qemu.firmware.kvm_smm = saved_smm
        (pyvirt_qemu.block_nodes.is_cdrom, pyvirt_qemu.domain_validation.host_arch,
         pyvirt_qemu.graphics.drm_render_node, pyvirt_qemu.domain_validation.swtpm_versions,
         pyvirt_qemu.host_devices.host_pci_driver, pyvirt_qemu.firmware.SEARCH_DIRS,
         pyvirt_qemu.firmware.installed, pyvirt_qemu.host_devices.mdev_exists,
         pyvirt.conf.domain.new_uuid, pyvirt_qemu.command_line.wall_clock, pyvirt_qemu.qemu_secrets.random_bytes,
         pyvirt_qemu.host_devices.scsi_generic_path, pyvirt_qemu.host_devices.vhost_scsi_available,
         tz) = saved  # fmt: skip
        if tz is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = tz
        time.tzset()


class Scores:
    """The three rows, with why each case that did not match failed. (A plain class: some tests load this file
    with ``importlib`` without registering it as a module, which a dataclass cannot stand.)"""

    def __init__(self) -> None:
        self.rows: dict[str, list[int]] = {"latest": [0, 0], "other": [0, 0]}
        self.reasons: dict[str, Counter[str]] = {"latest": Counter(), "other": Counter()}
        self.err_total = self.err_ok = self.err_same = 0
        self.err_reasons: Counter[str] = Counter()


def scores(tree: Path, only: str | None = None) -> Scores:
    """Every run of libvirt's qemuxml2argvtest.c (``libvirt_qemu_cases.argv_cases``), with the caps it names
    (inside ``libvirt_test_host``). ``only``: that case alone, both argvs printed when they differ."""
    out = Scores()
    for case in argv_cases(tree):
        if only and only not in (case.name, case.name + case.suffix):
            continue
        xml, args_file, err_file = argv_paths(tree, case)
        caps = caps_for(tree, case)
        _CURRENT["tpm"] = ("1.2", "2.0")
        if case.expect_failure or case.expect_parse_error:
            out.err_total += 1
            _CURRENT["tpm"] = _TPM_ONLY.get(case.name, ("1.2", "2.0"))
            try:
                argv_for(xml, caps)
            except Error as exc:
                out.err_ok += 1
                want = err_file.read_text().splitlines()[0] if err_file.exists() else ""
                same = str(exc).splitlines()[0].strip() == want.strip()
                out.err_same += same
                if not same:
                    out.err_reasons[f"want {want[:70]!r} got {str(exc).splitlines()[0][:60]!r}"] += 1
            except Exception as exc:
                out.err_reasons[f"crash: {type(exc).__name__}: {exc}"[:120]] += 1
            else:
                out.err_reasons[f"accepted: {case.name}{case.suffix}"] += 1
            continue
        row = "latest" if case.caps_label == "x86_64-latest" else "other"
        out.rows[row][1] += 1
        try:
            with case_environment(case) as vnc_host_audio:
                got = argv_for(xml, caps, "VIR_DOMAIN_DEF_PARSE_ABI_UPDATE" in case.parse_flags, vnc_host_audio,
                               incoming=migrate_uri(case.extra))  # fmt: skip
        except Error as exc:
            out.reasons[row][f"refused: {exc.code.name}: {str(exc)[:90]}"] += 1
            continue
        except Exception as exc:  # a crash is a finding, not a skip
            out.reasons[row][f"crash: {type(exc).__name__}: {exc}"[:120]] += 1
            continue
        want = normalise(expected_argv(args_file))
        if want == normalise(got):
            out.rows[row][0] += 1
        else:
            out.reasons[row][first_difference(want, normalise(got))] += 1
            if only:
                print("want:", " ".join(want), "\ngot: ", " ".join(got))
    return out


def main() -> int:
    """Rows: the x86_64-latest valid cases, the valid cases of every other caps (fake or a caps file), and the
    must-fail cases (a ``.err`` file: refused at all, and refused with libvirt's first error line)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("case", nargs="?", help="only this case (NAME or NAME.ARCH-VER); prints both argvs")
    parser.add_argument("--show", help="the same as naming the case")
    parser.add_argument("--histogram", type=int, help="how many causes to list per row (default 15, or "
                        "$PYVIRT_CONFORMANCE_REASONS)")  # fmt: skip
    opts = parser.parse_args()
    tree = source_tree()
    if tree is None:
        print("qemuxml2argv: libvirt 9.0.0 source unavailable (pyvirt.testing.sources cannot fetch it here); skipped")
        return 0
    with libvirt_test_host():
        result = scores(tree, opts.case or opts.show)
    top = opts.histogram if opts.histogram is not None else int(os.environ.get("PYVIRT_CONFORMANCE_REASONS", "15"))
    for row, title in (("latest", "x86_64-latest, valid cases"), ("other", "every other caps version and arch")):
        ok, total = result.rows[row]
        print(f"qemuxml2argv {title}: {ok}/{total} argv identical ({100.0 * ok / total if total else 0:.1f}%)")
        for why, count in result.reasons[row].most_common(top):
            print(f"  {count:6d}  {why}")
    print(f"qemuxml2argv must-fail cases: {result.err_ok}/{result.err_total} refused, {result.err_same} with "
          "libvirt's first error line")  # fmt: skip
    for why, count in result.err_reasons.most_common(top):
        print(f"  {count:6d}  {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
