"""``pyvirsh pool-define-as`` and ``pool-create-as``: a pool document built from options, as virsh builds it.

virsh writes the ``<pool>`` XML itself (virshBuildPoolXML) and then calls
the ordinary define or create, so pyvirsh does the same: any driver that
takes a pool document gets these commands, and ``--print-xml`` shows the
very bytes virsh would have sent.
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

_CREATE_WITH_BUILD = 1 << 0  # VIR_STORAGE_POOL_CREATE_WITH_BUILD
_CREATE_WITH_BUILD_OVERWRITE = 1 << 1  # VIR_STORAGE_POOL_CREATE_WITH_BUILD_OVERWRITE
_CREATE_WITH_BUILD_NO_OVERWRITE = 1 << 2  # VIR_STORAGE_POOL_CREATE_WITH_BUILD_NO_OVERWRITE

# VIRSH_COMMON_OPT_POOL_X_AS, in virsh's order (the order its checks and help follow)
_X_AS = (
    Opt("name", "name of the pool", required=True, positional=True),
    Opt("type", "type of the pool", required=True, positional=True),
    Opt("print-xml", "print XML document, but don't define/create", flag=True),
    Opt("source-host", "source-host for underlying storage"),
    Opt("source-path", "source path for underlying storage"),
    Opt("source-dev", "source device for underlying storage"),
    Opt("source-name", "source name for underlying storage"),
    Opt("target", "target for underlying storage"),
    Opt("source-format", "format for underlying storage"),
    Opt("auth-type", "auth type to be used for underlying storage"),
    Opt("auth-username", "auth username to be used for underlying storage"),
    Opt("secret-usage", "auth secret usage to be used for underlying storage"),
    Opt("secret-uuid", "auth secret UUID to be used for underlying storage"),
    Opt("adapter-name", "adapter name to be used for underlying storage"),
    Opt("adapter-wwnn", "adapter wwnn to be used for underlying storage"),
    Opt("adapter-wwpn", "adapter wwpn to be used for underlying storage"),
    Opt("adapter-parent", "adapter parent scsi_hostN to be used for underlying vHBA storage"),
    Opt("adapter-parent-wwnn", "adapter parent scsi_hostN wwnn to be used for underlying vHBA storage"),
    Opt("adapter-parent-wwpn", "adapter parent scsi_hostN wwpn to be used for underlying vHBA storage"),
    Opt("adapter-parent-fabric-wwn", "adapter parent scsi_hostN fabric_wwn to be used for underlying vHBA storage"),
    Opt("source-protocol-ver", "nfsvers value for NFS pool mount option"),
    Opt("source-initiator", "initiator iqn for underlying storage"),
)


def _pool_xml(o: dict[str, Any]) -> str:
    """virshBuildPoolXML: its checks in its order, then its document, byte for byte (values are not escaped)."""
    if o["secret-usage"] is not None and o["secret-uuid"] is not None:
        raise CommandError("Options --secret-usage and --secret-uuid are mutually exclusive")
    for opt in _X_AS:
        if not opt.flag and o[opt.name] == "":
            raise CommandError(f"Failed to get option '{opt.name}': Option argument is empty")
    g = o.get
    lines = [f"<pool type='{o['type']}'>", f"  <name>{o['name']}</name>"]
    wwnn, wwpn = g("adapter-wwnn"), g("adapter-wwpn")
    if any(g(k) for k in ("source-host", "source-path", "source-dev", "source-initiator", "source-format",
                          "source-name", "adapter-name")) or (wwnn and wwpn):  # fmt: skip
        src = ["<source>"]
        if g("source-host"):
            src.append(f"  <host name='{g('source-host')}'/>")
        if g("source-path"):
            src.append(f"  <dir path='{g('source-path')}'/>")
        if g("source-dev"):
            src.append(f"  <device path='{g('source-dev')}'/>")
        if g("source-initiator"):
            src += ["  <initiator>", f"    <iqn name='{g('source-initiator')}'/>", "  </initiator>"]
        if wwnn and wwpn:
            adapter = "  <adapter type='fc_host'"
            if g("adapter-parent"):
                adapter += f" parent='{g('adapter-parent')}'"
            elif g("adapter-parent-wwnn") and g("adapter-parent-wwpn"):
                adapter += f" parent_wwnn='{g('adapter-parent-wwnn')}' parent_wwpn='{g('adapter-parent-wwpn')}'"
            elif g("adapter-parent-fabric-wwn"):
                adapter += f" parent_fabric_wwn='{g('adapter-parent-fabric-wwn')}'"
            src.append(f"{adapter} wwnn='{wwnn}' wwpn='{wwpn}'/>")
        elif g("adapter-name"):
            src.append(f"  <adapter type='scsi_host' name='{g('adapter-name')}'/>")
        if g("auth-type") and g("auth-username") and (g("secret-usage") or g("secret-uuid")):
            src.append(f"  <auth type='{g('auth-type')}' username='{g('auth-username')}'>")
            if g("secret-usage"):
                src.append(f"    <secret usage='{g('secret-usage')}'/>")
            else:
                src.append(f"    <secret uuid='{g('secret-uuid')}'/>")
            src.append("  </auth>")
        if g("source-format"):
            src.append(f"  <format type='{g('source-format')}'/>")
        if g("source-name"):
            src.append(f"  <name>{g('source-name')}</name>")
        if g("source-protocol-ver"):
            src.append(f"  <protocol ver='{g('source-protocol-ver')}'/>")
        src.append("</source>")
        lines += ["  " + line for line in src]
    if g("target"):
        lines += ["  <target>", f"    <path>{g('target')}</path>", "  </target>"]
    lines.append("</pool>")
    return "\n".join(lines) + "\n"


@command("pool-create-as", "create a pool from a set of args", *_X_AS,
         Opt("build", "build the pool as normal", flag=True),
         Opt("no-overwrite", "do not overwrite any existing data", flag=True),
         Opt("overwrite", "overwrite any existing data", flag=True),
         description="Create a pool.")  # fmt: skip
def cmd_pool_create_as(s: Session, o: dict[str, Any]) -> None:
    """cmdPoolCreateAs: the build flags checked first, then the document, then create (or print)."""
    if o["overwrite"] and o["no-overwrite"]:
        raise CommandError("Options --overwrite and --no-overwrite are mutually exclusive")
    flags = (_CREATE_WITH_BUILD if o["build"] else 0) | (_CREATE_WITH_BUILD_OVERWRITE if o["overwrite"] else 0)
    flags |= _CREATE_WITH_BUILD_NO_OVERWRITE if o["no-overwrite"] else 0
    xml = _pool_xml(o)
    if o["print-xml"]:
        s.out_raw(xml)
        return
    try:
        s.conn.create_storage_pool(xml, flags)
    except Error as exc:
        raise CommandError(f"Failed to create pool {o['name']}", exc.message) from None
    s.extra(f"Pool {o['name']} created")


@command("pool-define-as", "define a pool from a set of args", *_X_AS, description="Define a pool.")
def cmd_pool_define_as(s: Session, o: dict[str, Any]) -> None:
    """cmdPoolDefineAs: the document, then define (or print)."""
    xml = _pool_xml(o)
    if o["print-xml"]:
        s.out_raw(xml)
        return
    try:
        s.conn.define_storage_pool(xml)
    except Error as exc:
        raise CommandError(f"Failed to define pool {o['name']}", exc.message) from None
    s.extra(f"Pool {o['name']} defined")
