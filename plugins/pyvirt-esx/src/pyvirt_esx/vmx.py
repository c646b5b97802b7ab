"""VMX <-> domain XML without a host: ``python -m pyvirt_esx.vmx to-xml FILE`` / ``from-xml --hw-version N FILE``.

The same conversions the driver's ``domxml-from-native``/``domxml-to-native
vmware-vmx`` run, with file names mapped by datastore name
(``/vmfs/volumes/<datastore>/<path>`` <-> ``[datastore] path``) instead of
by asking a host. ``--vmx-directory '[datastore] dir'`` places bare file
names (VMware writes the disks of a VM next to its ``.vmx`` as bare names).
The result goes to stdout; an error goes to stderr with exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pyvirt.errors import Error
from pyvirt_esx.vmx_context import VmxContext, host_free_context
from pyvirt_esx.vmx_from_xml import domain_to_vmx, parse_vmware_domain, xml_to_vmx
from pyvirt_esx.vmx_to_xml import vmx_to_domain, vmx_to_xml

__all__ = ["VmxContext", "domain_to_vmx", "main", "parse_vmware_domain", "vmx_to_domain", "vmx_to_xml", "xml_to_vmx"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyvirt_esx.vmx", description="Convert between VMX and domain XML")
    sub = parser.add_subparsers(dest="command", required=True)
    to_xml = sub.add_parser("to-xml", help="VMX file -> domain XML")
    to_xml.add_argument("file")
    to_xml.add_argument("--vmx-directory", help="'[datastore] directory' of the VMX file, for bare file names")
    to_xml.add_argument("--datacenter-path", help="vCenter datacenter path to record in the XML")
    from_xml = sub.add_parser("from-xml", help="domain XML -> VMX file")
    from_xml.add_argument("file")
    from_xml.add_argument("--hw-version", type=int, default=4, help="virtualHW.version to write (default 4)")
    args = parser.parse_args(argv)
    try:
        with open(args.file, "rb") as f:
            data = f.read()
    except OSError as err:
        print(f"error: cannot read {args.file}: {err.strerror}", file=sys.stderr)
        return 1
    try:
        if args.command == "to-xml":
            ctx = host_free_context(args.vmx_directory)
            ctx.datacenter_path = args.datacenter_path
            sys.stdout.write(vmx_to_xml(data, ctx))
        else:
            sys.stdout.write(xml_to_vmx(data, args.hw_version, host_free_context()))
    except Error as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
