"""One vSphere session through pyVmomi: connecting as libvirt's ESX driver does, tasks, datastore files.

libvirt's ESX driver speaks SOAP with its own client; here VMware's SDK
(pyVmomi) does. What is kept from libvirt: the URI parameters
(``transport``, ``no_verify``, ``auto_answer``, ``proxy``), the default
ports, the credentials lookup, the product check (an ``esx://`` URI must
reach an ESX host, ``vpx://`` a vCenter), and errors that carry vSphere's
own fault text with libvirt's codes.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import ssl
import time
import urllib.parse
from typing import Any

from pyvirt.errors import Error, ErrorCode, ErrorDomain, make_error
from pyvirt.uri import URI
from pyvirt.util.auth_prompt import ask
from pyvirt_esx.credentials import lookup_credential
from pyvirt_esx.session_cache import CachedSession, SessionCache
from pyvirt_esx.vmomi import SoapAdapter, SoapStubAdapter, VmomiSupport, vim, vmodl

# mypy treats any constant named TYPE_CHECKING as true: it sees typing.NamedTuple, the run pyvirt's cheaper one
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple
else:
    from pyvirt.util.named_tuple import NamedTuple

__all__ = ["Datastore", "Session", "UriOptions", "esx_error", "fault_text", "parse_uri_options"]

_DEFAULT_PORTS = {("esx", "https"): 443, ("esx", "http"): 80, ("vpx", "https"): 443, ("vpx", "http"): 80,
                  ("gsx", "https"): 8333, ("gsx", "http"): 8222}  # fmt: skip


def _esx_error(code: ErrorCode, detail: str) -> Error:
    """An error of libvirt's ESX domain, as the subclass its code maps to (NotFoundError for NO_STORAGE_POOL...)."""
    return make_error(code, detail, domain=ErrorDomain.ESX)


esx_error = _esx_error


def fault_text(fault: Any) -> str:
    """vSphere's own words for a fault (pyVmomi's fault objects carry them in ``msg``), else its type's name."""
    return str(getattr(fault, "msg", None) or type(fault).__name__)


class UriOptions(NamedTuple):  # records are pyvirt's NamedTuples, not dataclasses: cheaper to define
    transport: str
    no_verify: bool
    auto_answer: bool
    proxy: str | None


def parse_uri_options(uri: URI) -> UriOptions:
    """esxUtil_ParseUri: the query parameters libvirt's ESX driver knows, checked with its words."""
    transport = "http" if uri.driver == "gsx" else "https"
    no_verify = auto_answer = False
    proxy: str | None = None
    for key, value in uri.params:
        if key == "transport":
            if value not in ("http", "https"):
                raise _esx_error(ErrorCode.INVALID_ARG, f"Query parameter 'transport' has unexpected value "
                                 f"'{value}' (should be http|https)")  # fmt: skip
            transport = value
        elif key == "no_verify":
            if value not in ("0", "1"):
                raise _esx_error(ErrorCode.INVALID_ARG, f"Query parameter 'no_verify' has unexpected value "
                                 f"'{value}' (should be 0 or 1)")  # fmt: skip
            no_verify = value == "1"
        elif key == "auto_answer":
            if value not in ("0", "1"):
                raise _esx_error(ErrorCode.INVALID_ARG, f"Query parameter 'auto_answer' has unexpected value "
                                 f"'{value}' (should be 0 or 1)")  # fmt: skip
            auto_answer = value == "1"
            if auto_answer:
                # libvirt answers a VM's pending question with its default while waiting for a task; that is
                # not done here yet, and a parameter that would be ignored is refused instead
                raise _esx_error(ErrorCode.CONFIG_UNSUPPORTED, "Query parameter 'auto_answer=1' is not supported yet")
        elif key == "proxy":
            match = re.fullmatch(r"(?:(http|socks|socks4|socks4a|socks5)://)?([^:/]*)(?::(\d+))?", value)
            if match is None or (match.group(1) is None and "://" in value):
                scheme = value.split("://", 1)[0]
                raise _esx_error(ErrorCode.INVALID_ARG, f"Query parameter 'proxy' contains unexpected type "
                                 f"'{scheme}' (should be (http|socks(|4|4a|5))")  # fmt: skip
            if not match.group(2):
                raise _esx_error(ErrorCode.INVALID_ARG, "Query parameter 'proxy' doesn't contain a hostname")
            if match.group(3) is not None and not 1 <= int(match.group(3)) <= 65535:
                raise _esx_error(ErrorCode.INVALID_ARG, f"Query parameter 'proxy' has unexpected port value "
                                 f"'{match.group(3)}' (should be [1..65535])")  # fmt: skip
            if (match.group(1) or "http") != "http":
                # pyVmomi's transport tunnels through HTTP proxies only; a SOCKS proxy is refused, not ignored
                raise _esx_error(ErrorCode.CONFIG_UNSUPPORTED, f"SOCKS proxies are not supported: '{value}'")
            proxy = value
        elif key != "vcenter":
            raise _esx_error(ErrorCode.INVALID_ARG, f"Unknown query parameter '{key}'")
    return UriOptions(transport, no_verify, auto_answer, proxy)


class Datastore(NamedTuple):
    name: str
    mount_path: str  # what the host shows in absolute file names (/vmfs/volumes/<uuid>, or a directory)
    obj: Any


def _ssl_context(no_verify: bool) -> ssl.SSLContext:
    """A client TLS context; with ``no_verify`` a bare one, since loading the system's CA bundle (~35 ms) verifies nothing then."""
    if not no_verify:
        return ssl.create_default_context()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class KeptContent:
    """The host's ServiceContent as the session file keeps it, each part built on first use.

    Why not pyVmomi's own (de)serialization of the whole ServiceContent: it
    names some fifty managers, and building their pyVmomi types costs more
    than the rest of a ``pyvirsh list``. The file keeps each manager's type
    name and id, and ``about`` serialized; a manager is made when it is used.
    """

    def __init__(self, text: str, stub: Any) -> None:
        doc = json.loads(text)
        self._refs: dict[str, list[str]] = doc["refs"]
        self._about: str = doc["about"]
        self._version: str = doc["version"]
        self._stub = stub

    @staticmethod
    def describe(content: Any, version: str) -> str:
        """What the session file keeps of a ServiceContent (pyVmomi's) ``content``."""
        refs = {}
        for prop in content._GetPropertyList():
            value = getattr(content, prop.name)
            if isinstance(value, VmomiSupport.ManagedObject):
                refs[prop.name] = [VmomiSupport.GetVmodlName(type(value)), value._moId]
        about = SoapAdapter.Serialize(content.about, version=version).decode()
        return json.dumps({"refs": refs, "about": about, "version": version})

    def __getattr__(self, name: str) -> Any:
        if name == "about":
            value = SoapAdapter.Deserialize(self._about.encode(), vim.AboutInfo, stub=self._stub)
        elif name in self._refs:
            type_name, mo_id = self._refs[name]
            value = VmomiSupport.GetVmodlType(type_name)(mo_id, self._stub)
        elif name in {p.name for p in VmomiSupport.GetVmodlType("vim.ServiceInstanceContent")._GetPropertyList()}:
            value = None  # unset on this host (a vCenter-only manager on ESX, say), as pyVmomi would give it
        else:
            raise AttributeError(name)
        setattr(self, name, value)  # built once
        return value


class Session:
    """A logged-in vSphere session and the objects a connection uses (datacenter, host, resource pool).

    The login is reused across runs (pyvirt_esx.session_cache) while the host
    accepts it and the password is the one it was opened with; the
    datacenter and host the URI names are looked up on first use, so a
    listing on an ESX host costs one round trip after the session check.
    """

    def __init__(self, uri: URI) -> None:
        if not uri.server:
            raise _esx_error(ErrorCode.INVALID_ARG, "URI is missing the server part")
        self.uri = uri
        self.options = parse_uri_options(uri)
        self.port = uri.port or _DEFAULT_PORTS[(uri.driver, self.options.transport)]
        try:
            socket.getaddrinfo(uri.server, None)
        except socket.gaierror as err:
            raise _esx_error(ErrorCode.INTERNAL_ERROR,
                             f"IP address lookup for host '{uri.server}' failed: {err.strerror}") from None  # fmt: skip
        # libvirt's esxConnectToHost: the URI's user, else the auth file's, else asked (default root; vCenter:
        # administrator); the password from the auth file, else asked (pyvirsh prompts on the terminal)
        user = uri.user or lookup_credential("username", "esx", uri.server)
        if user is None:
            default = "administrator" if uri.driver == "vpx" else "root"
            user = ask("authname", f"Enter username for {uri.server} [{default}]", default)
        password = lookup_credential("password", "esx", uri.server)
        if password is None:
            password = ask("passphrase", f"Enter {user}'s password for {uri.server}")
        self.ssl_context = _ssl_context(self.options.no_verify)
        self._proxy: dict[str, Any] = {}
        if self.options.proxy:
            target = self.options.proxy.split("://", 1)[-1]
            host, _, port = target.partition(":")
            self._proxy = {"httpProxyHost": host, "httpProxyPort": int(port or 1080)}
        self.cache = SessionCache(uri.driver, self.options.transport, uri.server, self.port, user)
        self.reused = False  # this session came from the cache
        self.kept = False  # this session is in the cache, for the next run: close leaves it logged in
        content = self._reuse(user, password)
        if content is None:
            content = self._login(user, password)
        self.content = content
        about = content.about
        expected = {"esx": "HostAgent", "gsx": "HostAgent", "vpx": "VirtualCenter"}[uri.driver]
        if about.apiType != expected:
            self.close()
            kind = "vCenter" if about.apiType == "VirtualCenter" else "ESX"
            raise _esx_error(ErrorCode.INTERNAL_ERROR, f"Expecting '{uri.server}' to be a "
                             f"{'vCenter' if expected == 'VirtualCenter' else 'ESX'} host but found a {kind} host")  # fmt: skip
        self.about = about
        self._located: tuple[Any, Any] | None = None
        self._vms: dict[str, Any] = {}  # config.uuid -> the VM, as listings and lookups found it
        self._vm_folder: Any = None
        if not self.single_datacenter:
            self._locate_once()  # a vCenter path naming no datacenter or host fails the open, as in libvirt

    def _stub(self, version: str) -> Any:
        port = self.port if self.options.transport == "https" else -self.port  # pyVmomi: a negative port is http
        return SoapStubAdapter(host=self.uri.server, port=port, version=version,
                               sslContext=self.ssl_context if self.options.transport == "https" else None,
                               **self._proxy)  # fmt: skip

    def _reuse(self, user: str, password: str) -> Any:
        """The service content of the kept session, after one call shows the host still knows it; else None."""
        kept = self.cache.load(password)
        if kept is None:
            return None
        try:
            stub = self._stub(kept.version)
            stub.cookie = kept.cookie
            content = KeptContent(kept.content, stub)
            # the cheap check govc makes: the session's user (a real host answers None once it has expired,
            # vcsim raises NotAuthenticated)
            current = content.sessionManager.currentSession
        except Exception:  # NotAuthenticated, a closed port, a file from another pyVmomi: all a missed shortcut
            current = None
        if current is None or str(current.userName).lower() != user.lower():
            self.cache.forget()
            return None
        self.si = vim.ServiceInstance("ServiceInstance", stub)  # type: ignore[no-untyped-call]
        self.reused = self.kept = True
        return content

    def _login(self, user: str, password: str) -> Any:
        from pyVim.connect import SmartConnect  # only a fresh login needs pyVim's version negotiation

        try:
            self.si = SmartConnect(  # type: ignore[no-untyped-call]
                protocol=self.options.transport, host=self.uri.server, port=self.port, user=user, pwd=password,
                sslContext=self.ssl_context if self.options.transport == "https" else None, **self._proxy,
            )  # fmt: skip
        except vim.fault.InvalidLogin as err:
            raise _esx_error(ErrorCode.AUTH_FAILED, f"Fault: InvalidLogin - {getattr(err, 'msg', '')}") from None
        except ssl.SSLError as err:
            raise _esx_error(ErrorCode.INTERNAL_ERROR, f"SSL connection to '{self.uri.server}' failed: {err}") from None
        except (OSError, http.client.HTTPException, vmodl.MethodFault) as err:
            raise _esx_error(
                ErrorCode.INTERNAL_ERROR, f"Could not connect to '{self.uri.server}:{self.port}': {err}"
            ) from None
        # ServiceInstance.content is a call each time it is read: read once, as libvirt keeps its service content
        content = self.si.RetrieveContent()
        stub = self.si._stub
        kept = CachedSession(stub.version, stub.cookie, KeptContent.describe(content, stub.version))
        self.kept = self.cache.store(password, kept)  # a session nobody can reuse is logged out at close
        return content

    def _locate_single(self) -> tuple[Any, Any]:
        """An ESX host's only datacenter and host system, in one PropertyCollector call (not five)."""
        query: Any = vmodl.query.PropertyCollector  # pyVmomi's data classes are untyped
        to_children = query.TraversalSpec(
            name="folderToChildEntity", type=vim.Folder, path="childEntity", skip=False,
            selectSet=[query.SelectionSpec(name=n) for n in ("datacenterToHostFolder", "computeResourceToHost")],
        )  # fmt: skip
        to_host_folder = query.TraversalSpec(name="datacenterToHostFolder", type=vim.Datacenter, path="hostFolder",
                                             skip=False, selectSet=[query.SelectionSpec(name="folderToChildEntity")])  # fmt: skip
        to_host = query.TraversalSpec(name="computeResourceToHost", type=vim.ComputeResource, path="host", skip=False)
        spec = query.FilterSpec(
            objectSet=[query.ObjectSpec(obj=self.content.rootFolder, skip=True,
                                        selectSet=[to_children, to_host_folder, to_host])],
            propSet=[query.PropertySpec(type=vim.Datacenter, pathSet=["vmFolder"]),
                     query.PropertySpec(type=vim.HostSystem, pathSet=["name"])],
        )  # fmt: skip
        datacenter = host = None
        for found in self.content.propertyCollector.RetrieveContents([spec]) or []:
            if isinstance(found.obj, vim.Datacenter) and datacenter is None:
                datacenter = found.obj
                self._vm_folder = next((p.val for p in found.propSet or [] if p.name == "vmFolder"), None)
            elif isinstance(found.obj, vim.HostSystem) and host is None:
                host = found.obj
        if datacenter is None:
            raise _esx_error(ErrorCode.INTERNAL_ERROR, "Could not find a datacenter")
        if host is None:
            raise _esx_error(ErrorCode.INTERNAL_ERROR, "Could not find a host system")
        return datacenter, host

    def _locate(self, uri: URI) -> tuple[Any, Any]:
        """The datacenter and host the URI names: ``vpx://vc/DATACENTER/CLUSTER/HOST``; the only ones on ESX."""
        if self.single_datacenter:
            return self._locate_single()
        content = self.content
        datacenters = [e for e in content.rootFolder.childEntity if isinstance(e, vim.Datacenter)]
        parts = [urllib.parse.unquote(p) for p in uri.path.strip("/").split("/") if p]
        if uri.driver == "vpx" and parts:
            named = [dc for dc in datacenters if dc.name == parts[0]]
            if not named:
                raise _esx_error(ErrorCode.INTERNAL_ERROR, f"Could not find datacenter specified in '{uri.path}'")
            datacenters = named
        if not datacenters:
            raise _esx_error(ErrorCode.INTERNAL_ERROR, "Could not find a datacenter")
        datacenter = datacenters[0]
        view = content.viewManager.CreateContainerView(datacenter.hostFolder, [vim.HostSystem], True)
        try:
            hosts = list(view.view)
        finally:
            view.Destroy()
        if uri.driver == "vpx" and len(parts) > 1:
            # the last part names the host (a cluster's or a standalone one); never another host instead
            hosts = [h for h in hosts if h.name == parts[-1]]
            if not hosts:
                raise _esx_error(ErrorCode.INTERNAL_ERROR, f"Could not find host system specified in '{uri.path}'")
        if not hosts:
            raise _esx_error(ErrorCode.INTERNAL_ERROR, "Could not find a host system")
        return datacenter, hosts[0]

    @property
    def datacenter(self) -> Any:
        return self._locate_once()[0]

    @property
    def host(self) -> Any:
        return self._locate_once()[1]

    @property
    def vm_folder(self) -> Any:
        datacenter = self.datacenter
        if self._vm_folder is None:
            self._vm_folder = datacenter.vmFolder
        return self._vm_folder

    def _locate_once(self) -> tuple[Any, Any]:
        if self._located is None:
            self._located = self._locate(self.uri)
        return self._located

    def close(self) -> None:
        """End the connection; a session kept for the next run stays logged in (as govc leaves it)."""
        if self.kept:
            self.si._stub.DropConnections()
            return
        # a session the host has already dropped needs no logout
        with contextlib.suppress(OSError, http.client.HTTPException, vmodl.MethodFault):
            self.content.sessionManager.Logout()
        self.si._stub.DropConnections()

    # ------------------------------------------------------------------ objects
    def datastores(self) -> list[Datastore]:
        found = []
        for ds in self.host.datastore:  # the host's mounts: where its VMs' files are
            url = ds.summary.url or ""
            path = url[len("ds://") :] if url.startswith("ds://") else url
            found.append(Datastore(ds.name, path.rstrip("/"), ds))
        return found

    def vm_table(self, paths: list[str]) -> list[tuple[Any, dict[str, Any]]]:
        """Every VM of the datacenter with the properties ``paths``, in one PropertyCollector call.

        As libvirt's esxVI_LookupVirtualMachineList: listing N VMs costs one
        round trip, not one per property per VM (pyVmomi's attribute access),
        and no container view to create and destroy: the collector walks the
        folders itself. An ESX host has one datacenter, so its walk starts at
        the root folder and needs no lookup of the datacenter first.
        """
        query: Any = vmodl.query.PropertyCollector  # pyVmomi's data classes are untyped
        start = self.content.rootFolder if self.single_datacenter else self.vm_folder
        to_children = query.TraversalSpec(
            name="folderToChildEntity", type=vim.Folder, path="childEntity", skip=False,
            selectSet=[query.SelectionSpec(name=n) for n in ("folderToChildEntity", "datacenterToVmFolder",
                                                             "vAppToVm")],
        )  # fmt: skip
        to_vm_folder = query.TraversalSpec(name="datacenterToVmFolder", type=vim.Datacenter, path="vmFolder",
                                           skip=False, selectSet=[query.SelectionSpec(name="folderToChildEntity")])  # fmt: skip
        to_vapp_vms = query.TraversalSpec(name="vAppToVm", type=vim.VirtualApp, path="vm", skip=False)
        spec = query.FilterSpec(
            objectSet=[query.ObjectSpec(obj=start, skip=True, selectSet=[to_children, to_vm_folder, to_vapp_vms])],
            propSet=[query.PropertySpec(type=vim.VirtualMachine, pathSet=paths)],
        )
        contents = self.content.propertyCollector.RetrieveContents([spec])
        table = [(c.obj, {p.name: p.val for p in c.propSet or []}) for c in contents or []]
        for vm, props in table:
            if props.get("config.uuid"):
                self._vms[str(props["config.uuid"])] = vm
        return table

    def known_vm(self, uuid: str) -> Any:
        """The VM a listing or lookup of this session found under ``uuid`` (it may since have gone), or None."""
        return self._vms.get(uuid)

    def forget_vm(self, uuid: str) -> None:
        self._vms.pop(uuid, None)

    @property
    def single_datacenter(self) -> bool:
        """An ESX or GSX host has exactly one datacenter (``ha-datacenter``); a vCenter any number."""
        return self.uri.driver != "vpx"

    def properties(self, obj: Any, paths: list[str]) -> dict[str, Any]:
        """Several properties of one managed object in one call; an unset one is absent from the answer."""
        query: Any = vmodl.query.PropertyCollector
        spec = query.FilterSpec(
            objectSet=[query.ObjectSpec(obj=obj)], propSet=[query.PropertySpec(type=type(obj), pathSet=paths)]
        )
        contents = self.content.propertyCollector.RetrieveContents([spec])
        return {p.name: p.val for p in contents[0].propSet or []} if contents else {}

    def find_vm(self, uuid: str) -> Any:
        """The VM whose BIOS UUID (``config.uuid``) is ``uuid``, or None (esxVI_LookupVirtualMachineByUuid)."""
        datacenter = None if self.single_datacenter else self.datacenter  # None: the host's only one, no lookup
        vm = self.content.searchIndex.FindByUuid(datacenter=datacenter, uuid=uuid, vmSearch=True)
        if vm is not None:
            self._vms[uuid] = vm
        return vm

    def property(self, obj: Any, path: str) -> Any:
        """One property of a managed object through the property collector; None when it is unset.

        pyVmomi's attribute access fetches with ``PropertyCollector.Fetch``,
        which vcsim 0.24 answers for an unset property (a VM's ``snapshot``
        before its first snapshot) by dropping the connection.
        """
        query: Any = vmodl.query.PropertyCollector  # pyVmomi's data classes are untyped
        spec = query.FilterSpec(
            objectSet=[query.ObjectSpec(obj=obj)], propSet=[query.PropertySpec(type=type(obj), pathSet=[path])]
        )
        contents = self.content.propertyCollector.RetrieveContents([spec])
        for prop in contents[0].propSet if contents else []:
            if prop.name == path:
                return prop.val
        return None

    def wait(self, task: Any, what: str, code: ErrorCode = ErrorCode.OPERATION_FAILED) -> Any:
        """Wait for a task; a failed one raises "``what``: vSphere's fault text" under libvirt's ``code``.

        Only ``info.state``, ``info.error`` and ``info.result`` are read (as
        libvirt's esxVI_WaitForTaskCompletion reads what it needs): the whole
        ``info`` names the task's entity, which some servers give a type
        pyVmomi refuses to deserialize (vcsim's file manager and snapshot tasks).
        """
        collector = self.content.propertyCollector
        query: Any = vmodl.query.PropertyCollector  # pyVmomi's data classes are untyped
        spec = query.FilterSpec(
            objectSet=[query.ObjectSpec(obj=task)],
            propSet=[query.PropertySpec(type=type(task), pathSet=["info.state", "info.error", "info.result"])],
        )
        delay = 0.01
        while True:
            contents = collector.RetrieveContents([spec])
            props = {prop.name: prop.val for prop in contents[0].propSet} if contents else {}
            state = props.get("info.state")
            if state == "success":
                return props.get("info.result")
            if state == "error":
                error = props.get("info.error")
                message = error.msg if error is not None and error.msg else type(error).__name__
                failure = _esx_error(code, f"{what}: {message}")
                failure.vsphere_fault = error  # type: ignore[attr-defined]  # for callers that branch on the fault
                raise failure
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    # ------------------------------------------------------------------ datastore files (the host's /folder URLs)
    def _file_url(self, datastore: str, path: str) -> str:
        query = urllib.parse.urlencode({"dcPath": self.datacenter.name, "dsName": datastore})
        return (f"{self.options.transport}://{self.uri.server}:{self.port}/folder/"
                f"{urllib.parse.quote(path)}?{query}")  # fmt: skip

    def _request(self, method: str, datastore: str, path: str, body: bytes | None = None) -> bytes:
        cookie = self.si._stub.cookie  # the SOAP session's cookie authorises file transfers
        import urllib.error
        import urllib.request  # file transfers only: a listing need not pay for its import

        request = urllib.request.Request(self._file_url(datastore, path), data=body, method=method)
        request.add_header("Cookie", cookie)
        if body is not None:
            request.add_header("Content-Type", "application/octet-stream")
        context = self.ssl_context if self.options.transport == "https" else None
        try:
            with urllib.request.urlopen(request, context=context, timeout=60) as response:
                data: bytes = response.read()
                return data
        except urllib.error.HTTPError as err:
            raise _esx_error(ErrorCode.INTERNAL_ERROR, f"HTTP response code {err.code} for {method} of "
                             f"'[{datastore}] {path}'") from None  # fmt: skip
        except OSError as err:
            raise _esx_error(ErrorCode.INTERNAL_ERROR, f"{method} of '[{datastore}] {path}' failed: {err}") from None

    def download(self, datastore: str, path: str) -> bytes:
        return self._request("GET", datastore, path)

    def upload(self, datastore: str, path: str, data: bytes) -> None:
        self._request("PUT", datastore, path, data)

    def delete_file(self, datastore_path: str) -> None:
        manager = self.content.fileManager
        self.wait(
            manager.DeleteDatastoreFile_Task(name=datastore_path, datacenter=self.datacenter),
            f"Could not delete '{datastore_path}'",
        )
