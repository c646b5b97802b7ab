"""Networks, storage pools and volumes, secrets, node devices and host interfaces."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyvirt.daemon.procedures.table import (
    HANDLERS,
    Handler,
    _capped,
    _listed,
    _net,
    _pool,
    _secret,
    _vol,
    _wnet,
    _wpool,
    _wsecret,
    _wvol,
    handles,
)
from pyvirt.daemon.remote_program import ClientContext, StreamOpen
from pyvirt.errors import ConnectionError, ErrorCode, ErrorDomain
from pyvirt.network import network_matches
from pyvirt.plugin.records import (
    InterfaceRef,
    NetworkPortRef,
    NodeDeviceRef,
)
from pyvirt.remote.calls import uuid_text
from pyvirt.storage import pool_matches


# ---------------------------------------------------------------- networks, pools, volumes, secrets, devices
@handles("CONNECT_LIST_ALL_NETWORKS")
def _list_all_networks(ctx: ClientContext, a: Any) -> Any:
    calls = ctx.calls
    return _listed((r for r in calls.network_list_all() if network_matches(calls, r, a[1])), a[0], _wnet)


@handles("CONNECT_LIST_ALL_STORAGE_POOLS")
def _list_all_pools(ctx: ClientContext, a: Any) -> Any:
    calls = ctx.calls
    return _listed((r for r in calls.pool_list_all() if pool_matches(calls, r, a[1])), a[0], _wpool)


def _count_and_names(kind: str, active: bool, ref_arg: str) -> tuple[Handler, Handler]:
    def refs(ctx: ClientContext) -> list[Any]:
        calls = ctx.calls
        return [r for r in getattr(calls, f"{kind}_list_all")()
                if getattr(calls, f"{kind}_get_flags")(**{ref_arg: r})["active"] == active]  # fmt: skip

    def count(ctx: ClientContext, a: Any) -> Any:
        return (len(refs(ctx)),)

    def names(ctx: ClientContext, a: Any) -> Any:
        return (_capped(sorted(r.name for r in refs(ctx)), a[0], "maxnames"),)

    return count, names


for _kind, _ref_arg, _noun in (("network", "net", "NETWORKS"), ("pool", "pool", "STORAGE_POOLS")):
    HANDLERS[f"REMOTE_PROC_CONNECT_NUM_OF_{_noun}"], HANDLERS[f"REMOTE_PROC_CONNECT_LIST_{_noun}"] = _count_and_names(
        _kind, True, _ref_arg
    )
    HANDLERS[f"REMOTE_PROC_CONNECT_NUM_OF_DEFINED_{_noun}"], HANDLERS[f"REMOTE_PROC_CONNECT_LIST_DEFINED_{_noun}"] = (
        _count_and_names(_kind, False, _ref_arg)
    )


def _object_procs(
    prefix: str, kind: str, ref_arg: str, to_ref: Callable[[Any], Any], wire: Callable[[Any], Any]
) -> None:
    """The calls networks and storage pools share, one handler each, by their hook names."""

    def reg(proc: str, fn: Handler) -> None:
        HANDLERS[f"REMOTE_PROC_{prefix}_{proc}"] = fn

    reg("LOOKUP_BY_NAME", lambda ctx, a: (wire(getattr(ctx.calls, f"{kind}_lookup_by_name")(name=a[0])),))
    reg("LOOKUP_BY_UUID", lambda ctx, a: (wire(getattr(ctx.calls, f"{kind}_lookup_by_uuid")(uuid=uuid_text(a[0]))),))
    reg("UNDEFINE", lambda ctx, a: getattr(ctx.calls, f"{kind}_undefine")(**{ref_arg: to_ref(a[0])}))
    reg("DESTROY", lambda ctx, a: getattr(ctx.calls, f"{kind}_destroy")(**{ref_arg: to_ref(a[0])}))
    reg(
        "GET_XML_DESC",
        lambda ctx, a: (getattr(ctx.calls, f"{kind}_get_xml_desc")(**{ref_arg: to_ref(a[0])}, flags=a[1]),),
    )
    reg(
        "SET_AUTOSTART",
        lambda ctx, a: getattr(ctx.calls, f"{kind}_set_autostart")(**{ref_arg: to_ref(a[0])}, autostart=bool(a[1])),
    )
    for proc, key in (("GET_AUTOSTART", "autostart"), ("IS_ACTIVE", "active"), ("IS_PERSISTENT", "persistent")):
        reg(proc, _object_flag(kind, ref_arg, to_ref, key))


def _object_flag(kind: str, ref_arg: str, to_ref: Callable[[Any], Any], key: str) -> Handler:
    def get(ctx: ClientContext, a: Any) -> Any:
        return (int(bool(getattr(ctx.calls, f"{kind}_get_flags")(**{ref_arg: to_ref(a[0])})[key])),)

    return get


_object_procs("NETWORK", "network", "net", _net, _wnet)
_object_procs("STORAGE_POOL", "pool", "pool", _pool, _wpool)
HANDLERS.update(
    {
        "REMOTE_PROC_NETWORK_DEFINE_XML": lambda ctx, a: (_wnet(ctx.calls.network_define_xml(xml=a[0], flags=0)),),
        "REMOTE_PROC_NETWORK_DEFINE_XML_FLAGS": lambda ctx, a: (
            _wnet(ctx.calls.network_define_xml(xml=a[0], flags=a[1])),
        ),
        "REMOTE_PROC_NETWORK_CREATE_XML": lambda ctx, a: (_wnet(ctx.calls.network_create_xml(xml=a[0], flags=0)),),
        "REMOTE_PROC_NETWORK_CREATE_XML_FLAGS": lambda ctx, a: (
            _wnet(ctx.calls.network_create_xml(xml=a[0], flags=a[1])),
        ),
        "REMOTE_PROC_NETWORK_CREATE": lambda ctx, a: ctx.calls.network_create(net=_net(a[0])),
        "REMOTE_PROC_NETWORK_GET_BRIDGE_NAME": lambda ctx, a: (ctx.calls.network_get_bridge_name(net=_net(a[0])),),
        "REMOTE_PROC_NETWORK_UPDATE": lambda ctx, a: ctx.calls.network_update(
            net=_net(a[0]), command=a[1], section=a[2], parent_index=a[3], xml=a[4], flags=a[5]
        ),
        "REMOTE_PROC_STORAGE_POOL_DEFINE_XML": lambda ctx, a: (
            _wpool(ctx.calls.pool_define_xml(xml=a[0], flags=a[1])),
        ),
        "REMOTE_PROC_STORAGE_POOL_CREATE_XML": lambda ctx, a: (
            _wpool(ctx.calls.pool_create_xml(xml=a[0], flags=a[1])),
        ),
        "REMOTE_PROC_STORAGE_POOL_CREATE": lambda ctx, a: ctx.calls.pool_create(pool=_pool(a[0]), flags=a[1]),
        "REMOTE_PROC_STORAGE_POOL_REFRESH": lambda ctx, a: ctx.calls.pool_refresh(pool=_pool(a[0]), flags=a[1]),
        "REMOTE_PROC_STORAGE_POOL_BUILD": lambda ctx, a: ctx.calls.pool_build(pool=_pool(a[0]), flags=a[1]),
        "REMOTE_PROC_STORAGE_POOL_DELETE": lambda ctx, a: ctx.calls.pool_delete(pool=_pool(a[0]), flags=a[1]),
        "REMOTE_PROC_STORAGE_POOL_GET_INFO": lambda ctx, a: tuple(ctx.calls.pool_get_info(pool=_pool(a[0]))),
        "REMOTE_PROC_STORAGE_POOL_LOOKUP_BY_VOLUME": lambda ctx, a: (
            _wpool(ctx.calls.pool_lookup_by_name(name=a[0][0])),
        ),
        "REMOTE_PROC_STORAGE_POOL_LIST_ALL_VOLUMES": lambda ctx, a: _listed(
            ctx.calls.volume_list_all(pool=_pool(a[0])), a[1], _wvol
        ),
        "REMOTE_PROC_STORAGE_POOL_NUM_OF_VOLUMES": lambda ctx, a: (len(ctx.calls.volume_list_all(pool=_pool(a[0]))),),
        "REMOTE_PROC_STORAGE_POOL_LIST_VOLUMES": lambda ctx, a: (
            _capped(sorted(v.name for v in ctx.calls.volume_list_all(pool=_pool(a[0]))), a[1], "maxnames"),
        ),
        "REMOTE_PROC_STORAGE_VOL_LOOKUP_BY_NAME": lambda ctx, a: (
            _wvol(ctx.calls.volume_lookup_by_name(pool=_pool(a[0]), name=a[1])),
        ),
        "REMOTE_PROC_STORAGE_VOL_LOOKUP_BY_KEY": lambda ctx, a: (_wvol(ctx.calls.volume_lookup_by_key(key=a[0])),),
        "REMOTE_PROC_STORAGE_VOL_LOOKUP_BY_PATH": lambda ctx, a: (_wvol(ctx.calls.volume_lookup_by_path(path=a[0])),),
        "REMOTE_PROC_STORAGE_VOL_CREATE_XML": lambda ctx, a: (
            _wvol(ctx.calls.volume_create_xml(pool=_pool(a[0]), xml=a[1], flags=a[2])),
        ),
        "REMOTE_PROC_STORAGE_VOL_DELETE": lambda ctx, a: ctx.calls.volume_delete(vol=_vol(a[0]), flags=a[1]),
        "REMOTE_PROC_STORAGE_VOL_GET_INFO": lambda ctx, a: tuple(ctx.calls.volume_get_info(vol=_vol(a[0]))),
        "REMOTE_PROC_STORAGE_VOL_GET_XML_DESC": lambda ctx, a: (
            ctx.calls.volume_get_xml_desc(vol=_vol(a[0]), flags=a[1]),
        ),
        "REMOTE_PROC_STORAGE_VOL_GET_PATH": lambda ctx, a: (ctx.calls.volume_get_path(vol=_vol(a[0])),),
        "REMOTE_PROC_STORAGE_VOL_CREATE_XML_FROM": lambda ctx, a: (
            _wvol(ctx.calls.volume_create_xml_from(pool=_pool(a[0]), xml=a[1], source=_vol(a[2]), flags=a[3])),
        ),
        "REMOTE_PROC_STORAGE_VOL_WIPE": lambda ctx, a: ctx.calls.volume_wipe(vol=_vol(a[0]), algorithm=0, flags=a[1]),
        "REMOTE_PROC_STORAGE_VOL_WIPE_PATTERN": lambda ctx, a: ctx.calls.volume_wipe(
            vol=_vol(a[0]), algorithm=a[1], flags=a[2]
        ),
        # secrets
        "REMOTE_PROC_CONNECT_LIST_ALL_SECRETS": lambda ctx, a: _listed(ctx.calls.secret_list_all(), a[0], _wsecret),
        "REMOTE_PROC_CONNECT_NUM_OF_SECRETS": lambda ctx, a: (len(ctx.calls.secret_list_all()),),
        "REMOTE_PROC_CONNECT_LIST_SECRETS": lambda ctx, a: (
            _capped([s.uuid for s in ctx.calls.secret_list_all()], a[0], "maxuuids"),
        ),
        "REMOTE_PROC_SECRET_LOOKUP_BY_UUID": lambda ctx, a: (
            _wsecret(ctx.calls.secret_lookup_by_uuid(uuid=uuid_text(a[0]))),
        ),
        "REMOTE_PROC_SECRET_LOOKUP_BY_USAGE": lambda ctx, a: (
            _wsecret(ctx.calls.secret_lookup_by_usage(usage_type=a[0], usage_id=a[1])),
        ),
        "REMOTE_PROC_SECRET_DEFINE_XML": lambda ctx, a: (_wsecret(ctx.calls.secret_define_xml(xml=a[0], flags=a[1])),),
        "REMOTE_PROC_SECRET_UNDEFINE": lambda ctx, a: ctx.calls.secret_undefine(secret=_secret(a[0])),
        "REMOTE_PROC_SECRET_GET_XML_DESC": lambda ctx, a: (
            ctx.calls.secret_get_xml_desc(secret=_secret(a[0]), flags=a[1]),
        ),
        "REMOTE_PROC_SECRET_SET_VALUE": lambda ctx, a: ctx.calls.secret_set_value(
            secret=_secret(a[0]), value=bytes(a[1]), flags=a[2]
        ),
        "REMOTE_PROC_SECRET_GET_VALUE": lambda ctx, a: (ctx.calls.secret_get_value(secret=_secret(a[0]), flags=a[1]),),
        # node devices
        "REMOTE_PROC_CONNECT_LIST_ALL_NODE_DEVICES": lambda ctx, a: _listed(
            ctx.calls.nodedev_list_all(cap=None), a[0], lambda d: (d.name,)
        ),
        "REMOTE_PROC_NODE_NUM_OF_DEVICES": lambda ctx, a: (len(ctx.calls.nodedev_list_all(cap=a[0])),),
        "REMOTE_PROC_NODE_LIST_DEVICES": lambda ctx, a: (
            _capped_devices(sorted(d.name for d in ctx.calls.nodedev_list_all(cap=a[0])), a[1]),
        ),
        "REMOTE_PROC_NODE_DEVICE_LOOKUP_BY_NAME": lambda ctx, a: ((ctx.calls.nodedev_lookup_by_name(name=a[0]).name,),),
        "REMOTE_PROC_NODE_DEVICE_GET_XML_DESC": lambda ctx, a: (
            ctx.calls.nodedev_get_xml_desc(dev=NodeDeviceRef(a[0]), flags=a[1]),
        ),
        "REMOTE_PROC_NODE_DEVICE_GET_PARENT": lambda ctx, a: (
            ctx.calls.nodedev_get_parent(dev=NodeDeviceRef(a[0])) or None,
        ),
        "REMOTE_PROC_NODE_DEVICE_CREATE_XML": lambda ctx, a: (
            (ctx.calls.nodedev_create_xml(xml=a[0], flags=a[1]).name,),
        ),
        "REMOTE_PROC_NODE_DEVICE_DESTROY": lambda ctx, a: ctx.calls.nodedev_destroy(dev=NodeDeviceRef(a[0])),
        "REMOTE_PROC_CONNECT_FIND_STORAGE_POOL_SOURCES": lambda ctx, a: (
            ctx.calls.pool_find_sources(type=a[0], src_spec=a[1], flags=a[2]),
        ),
        # host interfaces
        "REMOTE_PROC_CONNECT_LIST_ALL_INTERFACES": lambda ctx, a: _listed(ctx.calls.interface_list_all(), a[0], tuple),
        "REMOTE_PROC_INTERFACE_LOOKUP_BY_NAME": lambda ctx, a: (tuple(ctx.calls.interface_lookup_by_name(name=a[0])),),
        "REMOTE_PROC_INTERFACE_GET_XML_DESC": lambda ctx, a: (
            ctx.calls.interface_get_xml_desc(iface=InterfaceRef(*a[0]), flags=a[1]),
        ),
        "REMOTE_PROC_INTERFACE_IS_ACTIVE": lambda ctx, a: (
            int(ctx.calls.interface_is_active(iface=InterfaceRef(*a[0]))),
        ),
        "REMOTE_PROC_INTERFACE_DEFINE_XML": lambda ctx, a: (
            tuple(ctx.calls.interface_define_xml(xml=a[0], flags=a[1])),
        ),
        "REMOTE_PROC_INTERFACE_UNDEFINE": lambda ctx, a: ctx.calls.interface_undefine(iface=InterfaceRef(*a[0])),
        "REMOTE_PROC_INTERFACE_CREATE": lambda ctx, a: ctx.calls.interface_create(
            iface=InterfaceRef(*a[0]), flags=a[1]
        ),
        "REMOTE_PROC_INTERFACE_DESTROY": lambda ctx, a: ctx.calls.interface_destroy(
            iface=InterfaceRef(*a[0]), flags=a[1]
        ),
        "REMOTE_PROC_INTERFACE_CHANGE_BEGIN": lambda ctx, a: ctx.calls.interface_change_begin(flags=a[0]),
        "REMOTE_PROC_INTERFACE_CHANGE_COMMIT": lambda ctx, a: ctx.calls.interface_change_commit(flags=a[0]),
        "REMOTE_PROC_INTERFACE_CHANGE_ROLLBACK": lambda ctx, a: ctx.calls.interface_change_rollback(flags=a[0]),
    }
)


def _interfaces(active: bool) -> tuple[Handler, Handler]:
    def refs(ctx: ClientContext) -> list[InterfaceRef]:
        calls = ctx.calls
        return [i for i in calls.interface_list_all() if calls.interface_is_active(iface=i) == active]

    return (
        lambda ctx, a: (len(refs(ctx)),),
        lambda ctx, a: (_capped(sorted(i.name for i in refs(ctx)), a[0], "maxnames"),),
    )


HANDLERS["REMOTE_PROC_CONNECT_NUM_OF_INTERFACES"], HANDLERS["REMOTE_PROC_CONNECT_LIST_INTERFACES"] = _interfaces(True)
HANDLERS["REMOTE_PROC_CONNECT_NUM_OF_DEFINED_INTERFACES"], HANDLERS["REMOTE_PROC_CONNECT_LIST_DEFINED_INTERFACES"] = (
    _interfaces(False)
)


def _capped_devices(names: list[str], maximum: int) -> list[str]:
    if maximum > 65536:  # REMOTE_NODE_DEVICE_LIST_MAX
        raise ConnectionError(ErrorCode.RPC, "maxnames > REMOTE_NODE_DEVICE_LIST_MAX", domain=ErrorDomain.RPC)
    return names[: max(maximum, 0)]


@handles("NETWORK_GET_DHCP_LEASES")
def _dhcp_leases(ctx: ClientContext, a: Any) -> Any:
    leases = ctx.calls.network_get_dhcp_leases(net=_net(a[0]), mac=a[1], flags=a[3])
    wire = [
        (lease.iface, lease.expiry, 1 if lease.type == "ipv6" else 0, lease.mac or None, lease.iaid or None,
         lease.ipaddr, lease.prefix, lease.hostname or None, lease.clientid or None)
        for lease in leases
    ]  # fmt: skip
    return (wire if a[2] else [], len(wire))


# ---------------------------------------------------------------- network ports
def _port(w: Any) -> NetworkPortRef:
    return NetworkPortRef(_net(w[0]), uuid_text(w[1]))


def _wport(p: NetworkPortRef) -> Any:
    return (_wnet(p.net), bytes.fromhex(p.uuid.replace("-", "")))


@handles("NETWORK_LIST_ALL_PORTS")
def _list_all_ports(ctx: ClientContext, a: Any) -> Any:
    return _listed(ctx.calls.network_list_all_ports(net=_net(a[0]), flags=a[2]), a[1], _wport)


@handles("NETWORK_PORT_LOOKUP_BY_UUID")
def _port_lookup_by_uuid(ctx: ClientContext, a: Any) -> Any:
    return (_wport(ctx.calls.network_port_lookup_by_uuid(net=_net(a[0]), uuid=uuid_text(a[1]))),)


@handles("NETWORK_PORT_CREATE_XML")
def _port_create_xml(ctx: ClientContext, a: Any) -> Any:
    return (_wport(ctx.calls.network_port_create_xml(net=_net(a[0]), xml=a[1], flags=a[2])),)


@handles("NETWORK_PORT_GET_XML_DESC")
def _port_get_xml_desc(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.network_port_get_xml_desc(port=_port(a[0]), flags=a[1]),)


@handles("NETWORK_PORT_DELETE")
def _port_delete(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.network_port_delete(port=_port(a[0]), flags=a[1])


# ---------------------------------------------------------------- volume streams
@handles("STORAGE_VOL_UPLOAD")
def _vol_upload(ctx: ClientContext, a: Any) -> Any:
    # A write stream: the client's data goes into the socket the hook returns, and its finish is
    # confirmed only after the driver closed the other side, i.e. once the data is in the volume.
    fd = ctx.calls.volume_upload(vol=_vol(a[0]), offset=a[1], length=a[2], flags=a[3])
    return StreamOpen(None, fd, upload=True)


@handles("STORAGE_VOL_DOWNLOAD")
def _vol_download(ctx: ClientContext, a: Any) -> Any:
    return StreamOpen(None, ctx.calls.volume_download(vol=_vol(a[0]), offset=a[1], length=a[2], flags=a[3]))


@handles("STORAGE_VOL_RESIZE", hook="volume_resize")
def _vol_resize(ctx: ClientContext, a: Any) -> Any:
    # through the public method: libvirtd's dispatch calls virStorageVolResize, which checks a zero capacity
    from pyvirt.storage import StorageVolume

    StorageVolume(ctx.conn, _vol(a[0])).resize(a[1], a[2])


@handles("CONNECT_GET_STORAGE_POOL_CAPABILITIES", hook="pool_get_capabilities")
def _pool_capabilities(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.pool_get_capabilities(flags=a[0]),)
