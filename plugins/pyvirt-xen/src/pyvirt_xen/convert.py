"""``python -m pyvirt_xen.convert {from-xl,to-xl,from-xm,to-xm,to-libxl-json} FILE``: conversions without a driver.

For tools and packagers on machines without Xen (``to-libxl-json`` takes
the host facts libxl would add, shadow memory and NUMA nodes, from this
machine): the result goes to stdout;
an error goes to stderr with libvirt's message and the exit status is 1.
``FILE`` may be ``-`` for standard input.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable

from pyvirt.errors import Error
from pyvirt_xen.from_native import xl_to_domain_xml, xm_to_domain_xml
from pyvirt_xen.libxl_json import domain_xml_to_libxl_json
from pyvirt_xen.to_native import domain_xml_to_xl, domain_xml_to_xm

__all__ = ["CONVERSIONS", "main"]

# from native: the whole file's content, graphics passwords included, as libvirt's xlconfigtest formats it (the
# file read already holds them; libvirt's driver, and so `virsh domxml-from-native`, leaves them out)
CONVERSIONS: dict[str, Callable[[str], str]] = {
    "from-xl": functools.partial(xl_to_domain_xml, secure=True),
    "to-xl": domain_xml_to_xl,
    "from-xm": functools.partial(xm_to_domain_xml, secure=True),
    "to-xm": domain_xml_to_xm,
    "to-libxl-json": domain_xml_to_libxl_json,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyvirt_xen.convert", description=__doc__.splitlines()[0])
    parser.add_argument("conversion", choices=sorted(CONVERSIONS))
    parser.add_argument("file", help="the file to convert, - for standard input")
    args = parser.parse_args(argv)
    try:
        if args.file == "-":
            text = sys.stdin.read()
        else:
            with open(args.file, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
        result = CONVERSIONS[args.conversion](text)
    except OSError as err:
        print(f"error: cannot read {args.file}: {err.strerror}", file=sys.stderr)
        return 1
    except Error as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 1
    sys.stdout.write(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
