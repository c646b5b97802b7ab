"""One vSphere session through pyVmomi: connecting as libvirt's ESX driver does, tasks, datastore files.

libvirt's ESX driver speaks SOAP with its own client; here VMware's SDK
(pyVmomi) does. What is kept from libvirt: the URI parameters
(``transport``, ``no_verify``, ``auto_answer``, ``proxy``), the default
ports, the credentials lookup, the product check (an ``esx://`` URI must
reach an ESX host, ``vpx://`` a vCenter), and errors that carry vSphere's
own fault text with libvirt's codes.
"""

from __future__ import annotations

import http.client
import re
import socket
import ssl
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim, vmodl

from pyvirt.errors import Error, ErrorCode, ErrorDomain
from pyvirt.uri import URI
from pyvirt_esx.credentials import lookup_credential

__all__ = ["Datastore", "Session", "UriOptions", "parse_uri_options"]

_DEFAULT_PORTS = {("esx", "https"): 443, ("esx", "http"): 80, ("vpx", "https"): 443, ("vpx", "http"): 80,
                  ("gsx", "https"): 8333, ("gsx", "http"): 8222}  # fmt: skip


def _esx_error(code: ErrorCode, detail: str) -> Error:
    return Error(code, detail, domain=ErrorDomain.ESX)


@dataclass(frozen=True)
class UriOptions:
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


@dataclass
class Datastore:
    name: str
    mount_path: str  # what the host shows in absolute file names (/vmfs/volumes/<uuid>, or a directory)
    obj: Any


class Session:
    """A logged-in vSphere session and the objects a connection uses (datacenter, host, resource pool)."""

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
        user = uri.user or lookup_credential("username", "esx", uri.server)
        if user is None:
            raise Error(ErrorCode.AUTH_FAILED, "Username request failed", domain=ErrorDomain.AUTH)
        password = lookup_credential("password", "esx", uri.server)
        if password is None:
            raise Error(ErrorCode.AUTH_FAILED, "Password request failed", domain=ErrorDomain.AUTH)
        self.ssl_context = ssl.create_default_context()
        if self.options.no_verify:
            self.ssl_context.check_hostname = False
            self.ssl_context.verify_mode = ssl.CERT_NONE
        kwargs: dict[str, Any] = {}
        if self.options.proxy:
            target = self.options.proxy.split("://", 1)[-1]
            host, _, port = target.partition(":")
            kwargs = {"httpProxyHost": host, "httpProxyPort": int(port or 1080)}
        try:
            self.si = SmartConnect(  # type: ignore[no-untyped-call]
                protocol=self.options.transport, host=uri.server, port=self.port, user=user, pwd=password,
                sslContext=self.ssl_context if self.options.transport == "https" else None, **kwargs,
            )  # fmt: skip
        except vim.fault.InvalidLogin as err:
            raise _esx_error(ErrorCode.AUTH_FAILED, f"Fault: InvalidLogin - {getattr(err, 'msg', '')}") from None
        except ssl.SSLError as err:
            raise _esx_error(ErrorCode.INTERNAL_ERROR, f"SSL connection to '{uri.server}' failed: {err}") from None
        except (OSError, http.client.HTTPException, vmodl.MethodFault) as err:
            raise _esx_error(
                ErrorCode.INTERNAL_ERROR, f"Could not connect to '{uri.server}:{self.port}': {err}"
            ) from None
        about = self.si.content.about
        expected = {"esx": "HostAgent", "gsx": "HostAgent", "vpx": "VirtualCenter"}[uri.driver]
        if about.apiType != expected:
            Disconnect(self.si)  # type: ignore[no-untyped-call]
            kind = "vCenter" if about.apiType == "VirtualCenter" else "ESX"
            raise _esx_error(ErrorCode.INTERNAL_ERROR, f"Expecting '{uri.server}' to be a "
                             f"{'vCenter' if expected == 'VirtualCenter' else 'ESX'} host but found a {kind} host")  # fmt: skip
        self.about = about
        self.datacenter, self.host = self._locate(uri)

    def _locate(self, uri: URI) -> tuple[Any, Any]:
        """The datacenter and host the URI names: ``vpx://vc/DATACENTER/CLUSTER/HOST``; the only ones on ESX."""
        content = self.si.content
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
        hosts = content.viewManager.CreateContainerView(datacenter.hostFolder, [vim.HostSystem], True).view
        if uri.driver == "vpx" and len(parts) > 1:
            # the last part names the host (a cluster's or a standalone one); never another host instead
            hosts = [h for h in hosts if h.name == parts[-1]]
            if not hosts:
                raise _esx_error(ErrorCode.INTERNAL_ERROR, f"Could not find host system specified in '{uri.path}'")
        if not hosts:
            raise _esx_error(ErrorCode.INTERNAL_ERROR, "Could not find a host system")
        return datacenter, hosts[0]

    def close(self) -> None:
        Disconnect(self.si)  # type: ignore[no-untyped-call]

    # ------------------------------------------------------------------ objects
    def virtual_machines(self) -> list[Any]:
        view = self.si.content.viewManager.CreateContainerView(self.datacenter.vmFolder, [vim.VirtualMachine], True)
        try:
            return list(view.view)
        finally:
            view.Destroy()

    def datastores(self) -> list[Datastore]:
        found = []
        for ds in self.host.datastore:  # the host's mounts: where its VMs' files are
            url = ds.summary.url or ""
            path = url[len("ds://") :] if url.startswith("ds://") else url
            found.append(Datastore(ds.name, path.rstrip("/"), ds))
        return found

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
        contents = self.si.content.propertyCollector.RetrieveContents([spec])
        for prop in contents[0].propSet if contents else []:
            if prop.name == path:
                return prop.val
        return None

    def wait(self, task: Any, what: str) -> Any:
        """Wait for a task; a failed one raises with vSphere's fault text under libvirt's code.

        Only ``info.state``, ``info.error`` and ``info.result`` are read (as
        libvirt's esxVI_WaitForTaskCompletion reads what it needs): the whole
        ``info`` names the task's entity, which some servers give a type
        pyVmomi refuses to deserialize (vcsim's file manager and snapshot tasks).
        """
        collector = self.si.content.propertyCollector
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
                raise _esx_error(ErrorCode.OPERATION_FAILED, f"{what}: {message}")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    # ------------------------------------------------------------------ datastore files (the host's /folder URLs)
    def _file_url(self, datastore: str, path: str) -> str:
        query = urllib.parse.urlencode({"dcPath": self.datacenter.name, "dsName": datastore})
        return (f"{self.options.transport}://{self.uri.server}:{self.port}/folder/"
                f"{urllib.parse.quote(path)}?{query}")  # fmt: skip

    def _request(self, method: str, datastore: str, path: str, body: bytes | None = None) -> bytes:
        cookie = self.si._stub.cookie  # the SOAP session's cookie authorises file transfers
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
        manager = self.si.content.fileManager
        self.wait(
            manager.DeleteDatastoreFile_Task(name=datastore_path, datacenter=self.datacenter),
            f"Could not delete '{datastore_path}'",
        )
