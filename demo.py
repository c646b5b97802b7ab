"""pyvirt demo: what this host can run, and a child started the way guests are.

Run through ``./bootstrap demo``.
"""

from __future__ import annotations

import os
import subprocess
import sys

from pyvirt.util.caps import capability_name, read_process_caps
from pyvirt.util.command import Command


def main() -> int:
    print("== pyvirsh host-validate ==", flush=True)
    subprocess.run([sys.executable, "-m", "pyvirt.cli.main", "host-validate"], check=False)
    if os.geteuid() != 0:
        print("(run as root to see a child started as another user with chosen capabilities)")
        return 0
    print("\n== a child as uid/gid 65534 keeping only CAP_SYS_RAWIO ==")
    cmd = Command(["/bin/sleep", "5"]).set_uid(65534).set_gid(65534).set_groups([]).set_capabilities(["sys_rawio"])
    print(cmd.to_args_text())
    cmd.run_async()
    st = read_process_caps(cmd.pid or 0)
    for label, value in (
        ("uid", st.uids),
        ("gid", st.gids),
        ("groups", st.groups),
        ("effective", sorted(capability_name(c) for c in st.effective)),
        ("bounding", sorted(capability_name(c) for c in st.bounding)),
        ("ambient", sorted(capability_name(c) for c in st.ambient)),
    ):
        print(f"  {label:<10} {value}")
    cmd.abort()
    return 0


if __name__ == "__main__":
    sys.exit(main())
