"""libvirt 9.0.0's VMX test data through pyvirt-esx: vmx2xml and xml2vmx scores, failing cases with reasons.

Run by ``nox -s conformance``; the cases are read from libvirt's own
vmx2xmltest.c and xml2vmxtest.c and run as they run them (see vmx_oracle).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vmx_oracle import libvirt_tests_dir, report, run_vmx2xml, run_xml2vmx


def main() -> int:
    tests = libvirt_tests_dir()
    if tests is None:
        print("libvirt 9.0.0's source is not available (pyvirt.testing.sources cannot fetch it here)", file=sys.stderr)
        return 1
    print(report("vmx2xml (domxml-from-native vmware-vmx)", run_vmx2xml(tests)))
    print(report("xml2vmx (domxml-to-native vmware-vmx)", run_xml2vmx(tests)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
