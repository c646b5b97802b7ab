"""Fixtures for tests with several hosts: a test network with hosts ``a`` and ``b``, certificates, an ssh identity.

The harness lives in ``hosts_harness`` (namespaces, pyvirtd and sshd per
host) and ``hosts_pki`` (certificates); other multi-host tests (migration)
import them the same way, through this directory on ``sys.path``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from hosts_harness import SshIdentity, TestNetwork, have_tools
from hosts_pki import TestCA

_WHY_NOT = have_tools()


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestNetwork]:
    """Hosts ``a`` and ``b``, each in its own namespace, on a test bridge the test process is on too."""
    if _WHY_NOT:
        pytest.skip(_WHY_NOT)
    with TestNetwork(tmp_path_factory.mktemp("hosts")) as net:
        net.add_host("a")
        net.add_host("b")
        yield net


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> SshIdentity:
    return SshIdentity(tmp_path_factory.mktemp("ssh"))
