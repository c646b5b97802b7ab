"""An orchestrator nobody here wrote: one Ansible playbook manages guests, networks and pools on two pyvirt hosts.

This is how libvirt's users run many hosts: not a cluster manager of their
own, but Ansible's community.libvirt modules (libvirt-python underneath, the
real libvirt 9.0 client library) pointed at each host's
``qemu+ssh://root@HOST/system``. Hosts ``a`` and ``b`` are network
namespaces on the test bridge, each with its own ``pyvirtd --root`` and sshd
(``hosts_harness``); Ansible runs on the controller (this machine's root
namespace, ``connection: local``) and reaches the daemons only through ssh,
as it reaches libvirtd hosts. ssh uses the test's key and known_hosts only:
libvirt 9.0's ssh transport passes ``?keyfile=`` as ``-i`` but has no
known_hosts option (that one is for its libssh transports), so the URI's
``?command=`` names an ssh that reads the test's own ssh_config.

The playbook has four plays, run in one ``ansible-playbook`` on both hosts at
once: define (network, dir pool, a firmware-only guest on that network),
start, stop (destroy), undefine. The pool's directory is made by
``virt_pool command: build`` (virStoragePoolBuild) and removed with the
pool by ``state: deleted`` (virStoragePoolDelete, then undefine); the build
also has a test of its own. Each play ends by asking pyvirsh, over the same
URI, what the host has; the test reads those answers from Ansible's JSON
output, and after the run looks at the hosts itself: QEMU processes, the
network's bridge, and pyvirsh's lists, which must be empty. A second
playbook makes an operator's mistake (a guest on a network not started):
each host's task fails with libvirt's words and leaves no guest half-started.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ansible_venv import ansible_python, ensure_ansible
from hosts_harness import SshIdentity, TestHost, TestNetwork

import pyvirt

_PYVIRSH = os.path.join(os.path.dirname(sys.executable), "pyvirsh")
GUEST, NET, POOL, BRIDGE = "ansguest", "ansnet", "anspool", "ansbr0"

# The last task of each play: what the host has, in pyvirsh's words, over the same URI (one pyvirsh and one
# ssh connection for the three listings: each task costs a module run and a connection, a second or more)
CHECK = """\
    - name: What pyvirsh sees
      ansible.builtin.command:
        argv: ["{{ pyvirsh }}", "-c", "{{ libvirt_uri }}", "list --all; net-list --all; pool-list --all"]
      changed_when: false
"""

# GUEST, NET, POOL, BRIDGE and CHECK stand for what is above (see _fill)
PLAYBOOK = """\
- name: Define a network, a dir pool and a guest on every host
  hosts: pyvirt_hosts
  gather_facts: false
  tasks:
    - name: Define the network
      community.libvirt.virt_net: {uri: "{{ libvirt_uri }}", command: define, name: NET, xml: "{{ net_xml }}"}
    - name: Define the pool
      community.libvirt.virt_pool: {uri: "{{ libvirt_uri }}", command: define, name: POOL, xml: "{{ pool_xml }}"}
    - name: Build the pool (makes its directory)
      community.libvirt.virt_pool: {uri: "{{ libvirt_uri }}", command: build, name: POOL}
    - name: The pool's directory
      ansible.builtin.stat: {path: "{{ pool_path }}"}
    - name: Define the guest
      community.libvirt.virt: {uri: "{{ libvirt_uri }}", command: define, xml: "{{ guest_xml }}"}
    - name: Redefine the guest, keeping its UUID and MAC (libvirt gives back the same definition)
      community.libvirt.virt:
        uri: "{{ libvirt_uri }}"
        command: define
        xml: "{{ guest_xml }}"
        mutate_flags: [ADD_UUID, ADD_MAC_ADDRESSES_FUZZY]
      register: redefine
    - CHECK

- name: Start them
  hosts: pyvirt_hosts
  gather_facts: false
  tasks:
    - name: Start the network
      community.libvirt.virt_net: {uri: "{{ libvirt_uri }}", command: start, name: NET}
    - name: Start the pool
      community.libvirt.virt_pool: {uri: "{{ libvirt_uri }}", command: start, name: POOL}
    - name: Start the guest
      community.libvirt.virt: {uri: "{{ libvirt_uri }}", state: running, name: GUEST}
    - name: Ask for a running guest again (already running)
      community.libvirt.virt: {uri: "{{ libvirt_uri }}", state: running, name: GUEST}
    - name: The guest's status
      community.libvirt.virt: {uri: "{{ libvirt_uri }}", command: status, name: GUEST}
    - name: The network's facts
      community.libvirt.virt_net: {uri: "{{ libvirt_uri }}", command: facts, name: NET}
    - name: Bridge ports (in the host's own namespace)
      ansible.builtin.command: {argv: [ip, -n, "{{ netns }}", -o, link, show, master, BRIDGE]}
      changed_when: false
    - CHECK

- name: Stop them
  hosts: pyvirt_hosts
  gather_facts: false
  tasks:
    - name: Stop (destroy) the guest
      community.libvirt.virt: {uri: "{{ libvirt_uri }}", state: destroyed, name: GUEST}
    - name: Stop (destroy) the pool
      community.libvirt.virt_pool: {uri: "{{ libvirt_uri }}", command: destroy, name: POOL}
    - name: Stop (destroy) the network
      community.libvirt.virt_net: {uri: "{{ libvirt_uri }}", command: destroy, name: NET}
    - CHECK

- name: Undefine them
  hosts: pyvirt_hosts
  gather_facts: false
  tasks:
    - name: Undefine the guest
      community.libvirt.virt: {uri: "{{ libvirt_uri }}", command: undefine, name: GUEST}
    - name: Delete and undefine the pool (its directory goes)
      community.libvirt.virt_pool: {uri: "{{ libvirt_uri }}", state: deleted, name: POOL}
    - name: Undefine the network
      community.libvirt.virt_net: {uri: "{{ libvirt_uri }}", command: undefine, name: NET}
    - CHECK
"""

BUILD_PLAYBOOK = """\
- name: Build a dir pool on every host
  hosts: pyvirt_hosts
  gather_facts: false
  tasks:
    - name: Define the pool
      community.libvirt.virt_pool: {uri: "{{ libvirt_uri }}", command: define, name: POOL, xml: "{{ pool_xml }}"}
    - block:
        - name: Build the pool
          community.libvirt.virt_pool: {uri: "{{ libvirt_uri }}", command: build, name: POOL}
        - name: Start the built pool
          community.libvirt.virt_pool: {uri: "{{ libvirt_uri }}", state: active, name: POOL}
      always:
        - name: Remove the pool
          community.libvirt.virt_pool: {uri: "{{ libvirt_uri }}", state: absent, name: POOL}
"""

# A mistake an operator makes: the guest's network is defined but not started.
INACTIVE_NETWORK_PLAYBOOK = """\
- name: Start a guest whose network is not started, on every host
  hosts: pyvirt_hosts
  gather_facts: false
  tasks:
    - name: Define the network
      community.libvirt.virt_net: {uri: "{{ libvirt_uri }}", command: define, name: NET, xml: "{{ net_xml }}"}
    - name: Define the guest
      community.libvirt.virt: {uri: "{{ libvirt_uri }}", command: define, xml: "{{ guest_xml }}"}
    - name: Start the guest
      community.libvirt.virt: {uri: "{{ libvirt_uri }}", state: running, name: GUEST}
      ignore_errors: true
    - CHECK
    - name: Undefine the guest
      community.libvirt.virt: {uri: "{{ libvirt_uri }}", command: undefine, name: GUEST}
    - name: Undefine the network
      community.libvirt.virt_net: {uri: "{{ libvirt_uri }}", command: undefine, name: NET}
"""

# Each playbook makes guests, networks and pools on both hosts: the core tested alone (tox -e core) has none of
# those drivers.
pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("pyvirt_qemu", "pyvirt_network", "pyvirt_storage")),
    reason="needs pyvirt-qemu, pyvirt-network and pyvirt-storage installed",
)


@pytest.fixture(scope="module")
def ansible() -> Path:
    why = ensure_ansible()
    if why is not None:
        pytest.skip(f"Ansible with community.libvirt cannot be installed: {why}")
    return ansible_python()


@dataclass
class Site:
    """What a playbook runs against: the two hosts (each with pyvirtd and sshd), their network, the ssh identity."""

    hosts: list[TestHost]
    network: TestNetwork
    identity: SshIdentity
    ansible: Path


@pytest.fixture(scope="module")
def site(network: TestNetwork, identity: SshIdentity, ansible: Path) -> Iterator[Site]:
    hosts = [network.hosts["a"], network.hosts["b"]]
    for host in hosts:
        host.start_pyvirtd()
        host.start_sshd(identity)
    try:
        yield Site(hosts, network, identity, ansible)
    finally:
        for host in hosts:
            _remove_leftovers(host)
            host.close_daemon()


def _remove_leftovers(host: TestHost) -> None:
    """What a playbook left (a failed one may leave anything), removed through the host's own socket.

    Stopping pyvirtd leaves guests running, as libvirtd does, so they must go before the daemon.
    """
    assert host.daemon is not None
    with pyvirt.open(host.daemon.uri("qemu:///system")) as conn:
        for dom in conn.list_all_domains():
            if dom.is_active():
                dom.destroy()
            dom.undefine()
        for net in conn.list_all_networks():
            if net.is_active():
                net.destroy()
            net.undefine()
        for pool in conn.list_all_storage_pools():
            if pool.is_active():
                pool.destroy()
            pool.undefine()


def _uri(host: TestHost, identity: SshIdentity) -> str:
    return f"qemu+ssh://root@{host.address}/system?keyfile={identity.key}&no_tty=1&command={identity.ssh}"


def _fill(playbook: str) -> str:
    playbook = playbook.replace("    - CHECK\n", CHECK)
    return playbook.replace("GUEST", GUEST).replace("NET", NET).replace("POOL", POOL).replace("BRIDGE", BRIDGE)


POOL_PATH = "{{ pool_path }}"  # each host's own directory, from its host variables


def _inventory(site: Site, pool_dir: str) -> dict[str, Any]:
    """Both hosts in group ``pyvirt_hosts``; Ansible runs their modules here and reaches them by their URIs."""
    virt_type = "kvm" if os.access("/dev/kvm", os.R_OK | os.W_OK) else "qemu"
    guest_xml = (
        f"<domain type='{virt_type}'><name>{GUEST}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
        "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><serial type='pty'/>"
        f"<interface type='network'><source network='{NET}'/></interface></devices></domain>"
    )
    # the network lives in each host's own namespace; 198.19.0.0/16 is, like the test bridge's, RFC 2544's range
    subnet = f"198.19.{site.network.subnet}"
    net_xml = (
        f"<network><name>{NET}</name><bridge name='{BRIDGE}'/><ip address='{subnet}.1' netmask='255.255.255.0'>"
        f"<dhcp><range start='{subnet}.10' end='{subnet}.20'/></dhcp></ip></network>"
    )
    per_host = {
        host.name: {
            "libvirt_uri": _uri(host, site.identity),
            "pool_path": str(host.root / pool_dir),
            "netns": host.netns,
        }
        for host in site.hosts
    }
    return {
        "pyvirt_hosts": {
            "hosts": per_host,
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": str(site.ansible),
                "pyvirsh": _PYVIRSH,
                "guest_xml": guest_xml,
                "net_xml": net_xml,
                "pool_xml": f"<pool type='dir'><name>{POOL}</name><target><path>{POOL_PATH}</path></target></pool>",
            },
        }
    }


def _play(site: Site, playbook: str, work: Path, pool_dir: str = "pool") -> Any:
    """Run ``playbook`` on both hosts with ansible-playbook; its JSON report, once every task on every host passed."""
    (work / "playbook.yml").write_text(_fill(playbook))
    (work / "inventory.json").write_text(json.dumps(_inventory(site, pool_dir)))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LC_ALL": "C.UTF-8",  # ansible-core refuses to run without a UTF-8 locale
        "HOME": str(work),
        "ANSIBLE_HOME": str(work / "ansible-home"),  # its caches and temporary files, never root's ~/.ansible
        "ANSIBLE_LOCAL_TEMP": str(work / "ansible-tmp"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORKS": "2",  # both hosts at once
    }
    argv = [str(site.ansible), "-m", "ansible.cli.playbook", "-i", "inventory.json", "playbook.yml"]
    done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=600, env=env, cwd=work)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"ansible-playbook exited {done.returncode} without a JSON report:\n{done.stdout}\n{done.stderr}")
    failed = {h: s for h, s in report["stats"].items() if s["failures"] or s["unreachable"]}
    assert done.returncode == 0 and not failed, _failures(report) + done.stderr
    return report


def _failures(report: Any) -> str:
    """What a user would read in Ansible's output: each failed task, its host and message."""
    lines = []
    for play in report["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                if result.get("failed") or result.get("unreachable"):
                    lines.append(f"{play['play']['name']} / {task['task']['name']} on {host}: {result.get('msg')}")
    return "\n".join(lines) + "\n"


def _task(report: Any, play: int, name: str) -> dict[str, Any]:
    """The results of the task of play number ``play`` whose name starts with ``name``, by host."""
    for task in report["plays"][play]["tasks"]:
        if task["task"]["name"].startswith(name):
            return dict(task["hosts"])
    raise AssertionError(f"no task {name!r} in play {play}")


def _diff(result: dict[str, Any]) -> str:
    """The module's before/after of a define, as a unified diff."""
    diff = result.get("diff") or {"before": "", "after": ""}
    return "\n".join(difflib.unified_diff(diff["before"].splitlines(), diff["after"].splitlines(), lineterm=""))


def _table(text: str) -> dict[str, list[str]]:
    """A virsh list table (header, dashes, rows) as name -> the other columns (Id is dropped from ``list``)."""
    rows: dict[str, list[str]] = {}
    lines = text.strip().splitlines()[2:]
    for line in lines:
        cells = line.split()
        if cells and (cells[0].isdigit() or cells[0] == "-"):  # list: Id Name State
            rows[cells[1]] = [" ".join(cells[2:])]
        elif cells:
            rows[cells[0]] = cells[1:]
    return rows


def _seen(report: Any, play: int, host: str) -> tuple[dict[str, list[str]], ...]:
    """pyvirsh's list, net-list and pool-list at the end of play ``play`` on ``host``."""
    result = _task(report, play, "What pyvirsh sees")[host]
    assert (result["rc"], result["stderr"]) == (0, ""), result["stderr"]
    tables = result["stdout"].rstrip("\n").split("\n\n")  # each table ends with an empty line, as virsh ends them
    assert len(tables) == 3, result["stdout"]
    return tuple(_table(table) for table in tables)


def _qemu_pids(host: TestHost) -> list[int]:
    """QEMU processes of guests under this host's root (their command lines name its directories)."""
    pids = []
    for entry in os.listdir("/proc"):
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if b"qemu-system" in cmdline and f"{host.root}/".encode() in cmdline:
            pids.append(int(entry))
    return pids


def _bridge_exists(host: TestHost) -> bool:
    argv = ["ip", "-n", host.netns, "link", "show", BRIDGE]
    return subprocess.run(argv, check=False, capture_output=True, timeout=30).returncode == 0


def test_one_playbook_manages_two_pyvirt_hosts(site: Site, tmp_path: Path) -> None:
    report = _play(site, PLAYBOOK, tmp_path)
    hosts = site.hosts
    names = [h.name for h in hosts]
    assert sorted(report["stats"]) == sorted(names)

    # play 0, define: everything is there and inactive; build made the pool's directory; a second define changes
    # nothing (libvirt-python compares the XML pyvirt gives back before and after)
    for host in hosts:
        doms, nets, pools = _seen(report, 0, host.name)
        assert doms == {GUEST: ["shut off"]}
        assert nets == {NET: ["inactive", "no", "yes"]}
        assert pools == {POOL: ["inactive", "no"]}
        made = _task(report, 0, "The pool's directory")[host.name]["stat"]  # play 3 removes it again
        assert (made["isdir"], made["mode"]) == (True, "0711")  # libvirt's mode for a pool that names none
    assert {h: r["changed"] for h, r in _task(report, 0, "Build the pool").items()} == dict.fromkeys(names, True)
    assert {h: r["changed"] for h, r in _task(report, 0, "Define the guest").items()} == dict.fromkeys(names, True)
    for name, result in _task(report, 0, "Redefine the guest").items():
        assert result["changed"] is False, f"{name}: the definition changed:\n{_diff(result)}"

    # play 1, start: the guest runs on the network Ansible made, in each host's own namespace
    for host in hosts:
        doms, nets, pools = _seen(report, 1, host.name)
        assert doms == {GUEST: ["running"]}
        assert nets == {NET: ["active", "no", "yes"]}
        assert pools == {POOL: ["active", "no"]}
    for name, result in _task(report, 1, "Ask for a running guest again (already running)").items():
        assert result["changed"] is False, name
    for name, result in _task(report, 1, "The guest's status").items():
        assert result["status"] == "running", name
    for name, result in _task(report, 1, "The network's facts").items():
        facts = result["ansible_facts"]["ansible_libvirt_networks"][NET]
        assert (facts["state"], facts["bridge"], facts["persistent"]) == ("active", BRIDGE, "yes"), name

    for name, result in _task(report, 1, "Bridge ports").items():
        ports = [line.split(":")[1].split("@")[0].strip() for line in result["stdout"].splitlines()]
        assert len(ports) == 1 and ports[0].startswith("vnet"), f"{name}: the guest's tap is not on {BRIDGE}: {ports}"

    # play 2, stop: defined, inactive
    for host in hosts:
        doms, nets, pools = _seen(report, 2, host.name)
        assert doms == {GUEST: ["shut off"]}
        assert nets == {NET: ["inactive", "no", "yes"]}
        assert pools == {POOL: ["inactive", "no"]}

    # play 3, undefine: nothing left, the pool's directory included (virt_pool state=deleted)
    for host in hosts:
        assert _seen(report, 3, host.name) == ({}, {}, {})
        assert not (host.root / "pool").exists()
    assert {h: r["changed"] for h, r in _task(report, 3, "Delete and undefine the pool").items()} == dict.fromkeys(
        names, True
    )

    # and the hosts themselves agree: no QEMU, no bridge, nothing any client can list
    for host in hosts:
        assert _qemu_pids(host) == []
        assert not _bridge_exists(host)
        listings = "list --all --name; net-list --all --name; pool-list --all --name"
        seen = subprocess.run([_PYVIRSH, "-c", _uri(host, site.identity), listings], check=False,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert (seen.returncode, seen.stderr, seen.stdout.strip()) == (0, "", ""), seen.stderr


def test_a_guest_on_a_network_that_is_not_started_is_refused_on_both_hosts(site: Site, tmp_path: Path) -> None:
    """The play goes on, each host's task says libvirt's words, and no guest is left half-started."""
    try:
        report = _play(site, INACTIVE_NETWORK_PLAYBOOK, tmp_path)
    finally:
        for host in site.hosts:
            _remove_leftovers(host)
    for name, result in _task(report, 0, "Start the guest").items():
        assert result["failed"] is True, name
        assert f"Requested operation is not valid: network '{NET}' is not active" in result["msg"], (name, result)
    for host in site.hosts:
        doms, nets, _pools = _seen(report, 0, host.name)
        assert doms == {GUEST: ["shut off"]}
        assert nets == {NET: ["inactive", "no", "yes"]}
        assert _qemu_pids(host) == []


def test_virt_pool_builds_a_dir_pool(site: Site, tmp_path: Path) -> None:
    """``virt_pool command=build`` makes a dir pool's directory, as libvirt's pool-build does, on both hosts."""
    try:
        report = _play(site, BUILD_PLAYBOOK, tmp_path, pool_dir="built-pool")
    finally:
        for host in site.hosts:
            _remove_leftovers(host)
    for host in site.hosts:
        assert _task(report, 0, "Build the pool")[host.name]["changed"] is True
        assert (host.root / "built-pool").is_dir()
        assert _task(report, 0, "Remove the pool")[host.name]["changed"] is True
