"""pyvirtd: the daemon that owns pyvirt's drivers and serves libvirt's RPC protocol (DESIGN §6).

``main`` is the command; ``server`` the sockets, framing, workers and
keepalive; ``remote_program`` and ``procedures`` what each remote procedure
does; ``state`` the driver connections the daemon holds; ``instance`` starts a
private daemon for tests, demos and benchmarks.
"""
