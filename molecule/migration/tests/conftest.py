"""The migration scenario's verify step: two hosts, one guest moved between them."""

import os
import sys

import pytest

# Test helpers shared by the scenarios (molecule/shared/testlib).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "testlib"))

# Tests marked only_hosts run on those hosts alone (molecule/shared/testlib/only_hosts.py).
from only_hosts import pytest_collection_modifyitems, pytest_configure  # noqa: E402,F401 pylint: disable=wrong-import-position,unused-import


@pytest.fixture()
def hostname(host):
    return host.backend.get_hostname()
