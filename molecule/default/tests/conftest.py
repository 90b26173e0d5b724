"""Helpers for the verify step: run the collection's playbook again from a test."""

import os
import sys

import pytest

# Test helpers shared by the scenarios (molecule/shared/testlib).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "testlib"))


@pytest.fixture()
def hostname(host):
    return host.backend.get_hostname()


# Tests marked only_hosts run on those hosts alone (molecule/shared/testlib/only_hosts.py).
from only_hosts import pytest_collection_modifyitems, pytest_configure  # noqa: E402,F401 pylint: disable=wrong-import-position,unused-import
