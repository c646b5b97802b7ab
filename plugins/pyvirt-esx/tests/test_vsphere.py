"""The ESX driver against a real vSphere simulator (govmomi's vcsim): a user's session, through the API and pyvirsh.

vcsim's own VMs have empty placeholder ``.vmx`` files, so the stories that
read a VM's XML define it through the driver first (a generated VMX
uploaded to the datastore and registered), as a user would.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from pyVim.connect import Disconnect, SmartConnect
from vcsim import PASSWORD, USER, Simulator

import pyvirt
from pyvirt.errors import Error, ErrorCode

pytestmark = pytest.mark.usefixtures("auth_file")
PYVIRSH = str(Path(sys.executable).with_name("pyvirsh"))


def domain_xml(name: str, datastore: str = "LocalDS_0", memory_mib: int = 64) -> str:
    return f"""<domain type='vmware'>
  <name>{name}</name>
  <memory unit='MiB'>{memory_mib}</memory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <source file='[{datastore}] {name}/{name}.vmdk'/>
      <target dev='sda' bus='scsi'/>
    </disk>
    <controller type='scsi' index='0' model='lsilogic'/>
    <interface type='bridge'>
      <mac address='00:50:56:12:34:56'/>
      <source bridge='VM Network'/>
      <model type='e1000'/>
    </interface>
  </devices>
</domain>"""


def prepare_directory(sim: Simulator, name: str) -> None:
    """Put the files a host keeps beside a VM's ``.vmx`` (NVRAM, log) in its directory.

    vcsim registers a VM only when they exist (a real host creates them at the
    first power-on); the disk's directory is where the driver puts the VMX.
    """
    ctx = ssl.create_default_context(cafile=str(sim.cert))
    si = SmartConnect(host=sim.host, port=sim.port, user=USER, pwd=PASSWORD, sslContext=ctx)
    try:
        datacenter = si.content.rootFolder.childEntity[0]
        for file_name in (f"{name}.nvram", "vmware.log"):
            url = (f"https://{sim.host}:{sim.port}/folder/{urllib.parse.quote(name + '/' + file_name)}?"
                   + urllib.parse.urlencode({"dcPath": datacenter.name, "dsName": "LocalDS_0"}))  # fmt: skip
            request = urllib.request.Request(url, data=b"", method="PUT", headers={"Cookie": si._stub.cookie})
            urllib.request.urlopen(request, context=ctx, timeout=30).close()
    finally:
        Disconnect(si)


def datastore_file_exists(sim: Simulator, path: str) -> bool:
    ctx = ssl.create_default_context(cafile=str(sim.cert))
    si = SmartConnect(host=sim.host, port=sim.port, user=USER, pwd=PASSWORD, sslContext=ctx)
    try:
        datacenter = si.content.rootFolder.childEntity[0]
        url = (f"https://{sim.host}:{sim.port}/folder/{urllib.parse.quote(path)}?"
               + urllib.parse.urlencode({"dcPath": datacenter.name, "dsName": "LocalDS_0"}))  # fmt: skip
        try:
            urllib.request.urlopen(urllib.request.Request(url, headers={"Cookie": si._stub.cookie}), context=ctx,
                                   timeout=30).close()  # fmt: skip
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return False
            raise
        return True
    finally:
        Disconnect(si)


def test_host_facts(esx_sim: Simulator) -> None:
    with pyvirt.open(esx_sim.uri()) as conn:
        assert conn.get_type() == "ESX"
        assert conn.get_version() == 6_005_000
        info = conn.get_node_info()
        # vcsim's host: "Intel(R) Core(TM) i7-3615QM CPU @ 2.30GHz", 2 cores in 2 packages; the frequency is
        # hardware.cpuInfo.hz as libvirt reads it (vcsim says 3591 MHz there, 2294 in summary.hardware)
        assert info.model == "Intel Core i7-3615QM CPU @ 2.30"  # 31 bytes, as virNodeInfo holds them
        assert (info.cpus, info.sockets, info.cores, info.threads, info.mhz) == (2, 2, 1, 1, 3591)
        assert info.memory_kib > 0


def test_simulators_own_vms_are_listed(esx_sim: Simulator) -> None:
    with pyvirt.open(esx_sim.uri()) as conn:
        names = {d.name for d in conn.list_all_domains()}
        assert {"ha-host_VM0", "ha-host_VM1"} <= names
        dom = conn.lookup_domain_by_name("ha-host_VM0")
        assert dom.state()[0] == 1  # vcsim starts its VMs powered on
        assert dom.id > 0 and conn.lookup_domain_by_id(dom.id).uuid == dom.uuid
        assert conn.lookup_domain_by_uuid(dom.uuid).name == "ha-host_VM0"
        with pytest.raises(Error) as err:
            conn.lookup_domain_by_name("no such vm")
        assert err.value.code == ErrorCode.NO_DOMAIN


@pytest.mark.parametrize("name", ["plain", "web server ñ ü 漢"])
def test_define_dumpxml_power_cycle_undefine(esx_sim: Simulator, name: str) -> None:
    prepare_directory(esx_sim, name)
    with pyvirt.open(esx_sim.uri()) as conn:
        dom = conn.define_domain(domain_xml(name))
        assert dom.name == name and dom.state()[0] == 5 and dom.id == -1
        xml = dom.xml_desc()
        assert f"<name>{name}</name>" in xml
        assert "<memory unit='KiB'>65536</memory>" in xml
        assert "<vcpu placement='static'>2</vcpu>" in xml
        assert f"<source file='[LocalDS_0] {name}/{name}.vmdk'/>" in xml
        assert "<mac address='00:50:56:12:34:56' type='static'/>" in xml
        info = dom.info()
        # dominfo is the host's view of the VM; vcsim keeps its own defaults instead of reading the VMX
        assert info.state == 5 and info.vcpus >= 1 and info.max_memory_kib > 0
        dom.create()
        assert dom.state()[0] == 1
        with pytest.raises(Error) as err:
            dom.create()
        assert err.value.code == ErrorCode.OPERATION_INVALID
        dom.suspend()
        assert dom.state()[0] == 3
        dom.resume()
        assert dom.state()[0] == 1
        dom.destroy()
        assert dom.state()[0] == 5
        dom.undefine()
        assert name not in {d.name for d in conn.list_all_domains()}


def test_define_of_what_vmx_cannot_hold_uploads_nothing(esx_sim: Simulator) -> None:
    bad = domain_xml("refused").replace("</devices>", "<sound model='ich6'/></devices>")
    with pyvirt.open(esx_sim.uri()) as conn:
        with pytest.raises(Error) as err:
            conn.define_domain(bad)
        assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED
        assert "'domain/devices/sound'" in err.value.message
        assert "refused" not in {d.name for d in conn.list_all_domains()}


def test_failed_register_removes_the_uploaded_vmx(esx_sim: Simulator) -> None:
    """The host refuses to register (here: vcsim misses the VM's NVRAM file) after the upload: the VMX goes again."""
    with pyvirt.open(esx_sim.uri()) as conn:
        with pytest.raises(Error) as err:
            conn.define_domain(domain_xml("ghost"))
        assert err.value.code == ErrorCode.OPERATION_FAILED
        assert err.value.message.startswith("operation failed: Could not define domain: ")
        assert "ghost" not in {d.name for d in conn.list_all_domains()}
    assert not datastore_file_exists(esx_sim, "ghost/ghost.vmx")


def test_define_into_an_unknown_datastore(esx_sim: Simulator) -> None:
    with pyvirt.open(esx_sim.uri()) as conn:
        with pytest.raises(Error) as err:
            conn.define_domain(domain_xml("ghost", datastore="NoSuchDS"))
        assert "NoSuchDS" in err.value.message


def test_domxml_native_conversions_through_the_connection(esx_sim: Simulator) -> None:
    with pyvirt.open(esx_sim.uri()) as conn:
        vmx = conn.domain_xml_to_native("vmware-vmx", domain_xml("conv"))
        assert 'virtualHW.version = "13"' in vmx  # ESX 6.5's default hardware version
        assert 'ethernet0.virtualDev = "e1000"' in vmx
        back = conn.domain_xml_from_native("vmware-vmx", vmx)
        assert "<source file='[LocalDS_0] conv/conv.vmdk'/>" in back
        bare = vmx.replace(f"{vmx.split('scsi0:0.fileName = ')[1].splitlines()[0]}", '"conv.vmdk"')
        assert "<source file='[?] ?/conv.vmdk'/>" in conn.domain_xml_from_native("vmware-vmx", bare)
        with pytest.raises(Error) as err:
            conn.domain_xml_to_native("xen-xm", domain_xml("conv"))
        assert err.value.code == ErrorCode.INVALID_ARG


def test_wrong_password(esx_sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    auth = tmp_path / "wrong.conf"
    auth.write_text("[credentials-x]\nusername=root\npassword=wrong\n[auth-esx-default]\ncredentials=x\n")
    monkeypatch.setenv("LIBVIRT_AUTH_FILE", str(auth))
    with pytest.raises(Error) as err:
        pyvirt.open(esx_sim.uri())
    assert err.value.code == ErrorCode.AUTH_FAILED
    assert "InvalidLogin" in err.value.message


def test_no_password_anywhere(esx_sim: Simulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    other = tmp_path / "other.conf"
    other.write_text("[credentials-x]\nusername=a\npassword=b\n[auth-esx-elsewhere]\ncredentials=x\n")
    monkeypatch.setenv("LIBVIRT_AUTH_FILE", str(other))
    with pytest.raises(Error) as err:
        pyvirt.open(esx_sim.uri())
    # pyvirt.open, like virConnectOpen without an auth callback, cannot ask: libvirt's words
    assert err.value.code == ErrorCode.INVALID_ARG and "Missing authentication credentials" in err.value.message


def test_certificate_is_checked_unless_no_verify(esx_sim: Simulator) -> None:
    with pytest.raises(Error) as err:
        pyvirt.open(esx_sim.uri(query="transport=https"))
    assert err.value.code == ErrorCode.INTERNAL_ERROR
    assert "CERTIFICATE_VERIFY_FAILED" in err.value.message


def test_unknown_host_and_bad_parameters() -> None:
    with pytest.raises(Error) as err:
        pyvirt.open("esx://root@no-such-host.invalid/?no_verify=1")
    assert "IP address lookup for host 'no-such-host.invalid' failed" in err.value.message
    with pytest.raises(Error) as err:
        pyvirt.open("esx://root@127.0.0.1/?no_verify=2")
    assert err.value.code == ErrorCode.INVALID_ARG
    assert "Query parameter 'no_verify' has unexpected value '2' (should be 0 or 1)" in err.value.message
    with pytest.raises(Error) as err:
        pyvirt.open("esx://root@127.0.0.1/?colour=blue")
    assert "Unknown query parameter 'colour'" in err.value.message
    with pytest.raises(Error) as err:
        pyvirt.open("esx://root@127.0.0.1/?auto_answer=1")
    assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED
    with pytest.raises(Error) as err:
        pyvirt.open("esx://root@127.0.0.1/?proxy=socks5://proxy:1080")
    assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED and "SOCKS" in err.value.message
    with pytest.raises(Error) as err:
        pyvirt.open("esx://root@127.0.0.1/?proxy=ftp://proxy")
    assert "Query parameter 'proxy' contains unexpected type 'ftp'" in err.value.message


def test_esx_uri_refuses_a_vcenter(vpx_sim: Simulator) -> None:
    with pytest.raises(Error) as err:
        pyvirt.open(vpx_sim.uri(scheme="esx"))
    assert "to be a ESX host but found a vCenter host" in err.value.message


def test_vcenter_path_names_datacenter_and_host(vpx_sim: Simulator) -> None:
    for path, message in (("/NoDC/", "Could not find datacenter specified in '/NoDC/'"),
                          ("/DC0/DC0_C0/NoHost/", "Could not find host system specified in '/DC0/DC0_C0/NoHost/'")):  # fmt: skip
        with pytest.raises(Error) as err:
            pyvirt.open(vpx_sim.uri(scheme="vpx").replace("/?", f"{path}?"))
        assert message in err.value.message


def test_vcenter_session(vpx_sim: Simulator) -> None:
    prepare_directory(vpx_sim, "vc guest")
    with pyvirt.open(vpx_sim.uri(scheme="vpx").replace("/?", "/DC0/DC0_C0/DC0_C0_H0/?")) as conn:
        dom = conn.define_domain(domain_xml("vc guest", datastore="LocalDS_0"))
        assert "<name>vc guest</name>" in dom.xml_desc()
        dom.create()
        assert dom.state()[0] == 1
        dom.destroy()
        dom.undefine()


def test_pyvirsh_list_and_dominfo(esx_sim: Simulator) -> None:
    env = {**os.environ, "LIBVIRT_AUTH_FILE": os.environ["LIBVIRT_AUTH_FILE"]}
    result = subprocess.run([PYVIRSH, "-c", esx_sim.uri(), "list", "--all"],
                            capture_output=True, text=True, timeout=120, env=env, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "ha-host_VM0" in result.stdout and "running" in result.stdout
    info = subprocess.run([PYVIRSH, "-c", esx_sim.uri(), "dominfo", "ha-host_VM1"],
                          capture_output=True, text=True, timeout=120, env=env, check=False)  # fmt: skip
    assert info.returncode == 0, info.stderr
    assert "ha-host_VM1" in info.stdout


def test_password_is_never_in_the_uri(esx_sim: Simulator) -> None:
    assert PASSWORD not in esx_sim.uri()


def test_snapshot_tree(esx_sim: Simulator) -> None:
    """Create two snapshots (the second a child of the first), walk the tree, revert, delete with children."""
    with pyvirt.open(esx_sim.uri()) as conn:
        dom = conn.lookup_domain_by_name("ha-host_VM1")
        first = dom.snapshot_create(
            "<domainsnapshot><name>base</name><description>clean</description></domainsnapshot>"
        )
        second = dom.snapshot_create("<domainsnapshot><name>later</name></domainsnapshot>")
        assert (first.name, second.name) == ("base", "later")
        assert [s.name for s in dom.list_snapshots()] == ["base", "later"]
        assert [s.name for s in dom.list_snapshots(flags=1)] == ["base"]  # VIR_DOMAIN_SNAPSHOT_LIST_ROOTS
        assert [s.name for s in dom.list_snapshots(flags=4)] == ["later"]  # VIR_DOMAIN_SNAPSHOT_LIST_LEAVES
        assert dom.snapshot_current().name == "later"
        assert second.parent().name == "base"
        xml = second.xml_desc()
        assert "<name>later</name>" in xml and "<parent>\n    <name>base</name>\n  </parent>" in xml
        assert "<state>running</state>" in xml and f"<uuid>{dom.uuid}</uuid>" in xml
        assert "<description>clean</description>" in first.xml_desc()
        with pytest.raises(Error) as err:
            first.parent()
        assert err.value.code == ErrorCode.NO_DOMAIN_SNAPSHOT
        with pytest.raises(Error) as err:
            dom.snapshot_create("<domainsnapshot><name>base</name></domainsnapshot>")
        assert err.value.code == ErrorCode.OPERATION_INVALID and "Snapshot 'base' already exists" in err.value.message
        with pytest.raises(Error) as err:
            dom.snapshot_create("<domainsnapshot><name>d</name><disks><disk name='sda'/></disks></domainsnapshot>")
        assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED
        first.revert()
        assert dom.snapshot_current().name == "base"
        first.delete(flags=1)  # VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN
        assert dom.list_snapshots() == []
        with pytest.raises(Error) as err:
            dom.snapshot_lookup_by_name("later")
        assert err.value.code == ErrorCode.NO_DOMAIN_SNAPSHOT


def test_pyvirsh_snapshots_as_a_tree(esx_sim: Simulator) -> None:
    def pyvirsh(*args: str) -> str:
        result = subprocess.run([PYVIRSH, "-c", esx_sim.uri(), *args], capture_output=True, text=True, timeout=120,
                                check=False)  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout

    pyvirsh("snapshot-create-as", "ha-host_VM0", "root-snap")
    pyvirsh("snapshot-create-as", "ha-host_VM0", "child-snap")
    tree = [line.rstrip() for line in pyvirsh("snapshot-list", "ha-host_VM0", "--tree").splitlines() if line.strip()]
    assert tree == ["root-snap", "  |", "  +- child-snap"]
    assert pyvirsh("snapshot-current", "ha-host_VM0", "--name") == "child-snap\n"
    pyvirsh("snapshot-delete", "ha-host_VM0", "root-snap", "--children")
    assert "root-snap" not in pyvirsh("snapshot-list", "ha-host_VM0")


def test_a_vm_unregistered_elsewhere_is_looked_up_again(esx_sim: Simulator) -> None:
    """A connection asks a VM it has listed directly by its id; one gone since is NO_DOMAIN, not a stale answer."""
    prepare_directory(esx_sim, "gone guest")
    with pyvirt.open(esx_sim.uri()) as conn, pyvirt.open(esx_sim.uri()) as other:
        dom = conn.define_domain(domain_xml("gone guest"))
        assert "gone guest" in {d.name for d in conn.list_all_domains()}
        assert dom.state()[0] == 5
        other.lookup_domain_by_name("gone guest").undefine()
        with pytest.raises(Error) as err:
            dom.state()
        assert err.value.code == ErrorCode.NO_DOMAIN
        with pytest.raises(Error) as err:
            dom.info()
        assert err.value.code == ErrorCode.NO_DOMAIN
