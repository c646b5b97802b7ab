"""What the backup tests share: waiting for a backup job to end (test_backup_pull, test_backup_incremental)."""

from __future__ import annotations

import time

import pyvirt
from pyvirt.errors import Error, ErrorCode


def wait_backup_ended(dom: pyvirt.Domain, timeout: float = 30) -> None:
    """Until the domain has no backup job (backup-dumpxml answers NO_DOMAIN_BACKUP), at most ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            dom.backup_get_xml_desc()
        except Error as err:
            assert err.code == ErrorCode.NO_DOMAIN_BACKUP
            return
        assert time.monotonic() < deadline, "the backup did not end"
        time.sleep(0.05)
