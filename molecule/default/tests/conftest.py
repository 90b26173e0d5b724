"""Helpers for the verify step: run the collection's playbook again from a test."""

import os
import sys

import pytest

# Test helpers shared by the scenarios (molecule/shared/testlib).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "testlib"))


@pytest.fixture()
def hostname(host):
    return host.backend.get_hostname()


# Tests marked only_hosts run on those hosts alone (molecule/shared/testlib/only_hosts.py), each
# host's tests in a lane of their own (lanes.py).
# pylint: disable=wrong-import-position,unused-import
from lanes import _every_lane_done, pytest_sessionfinish, pytest_xdist_make_scheduler  # noqa: E402,F401
from lanes import pytest_configure as lane_markers  # noqa: E402
from only_hosts import pytest_collection_modifyitems  # noqa: E402,F401
from only_hosts import pytest_configure as only_hosts_markers  # noqa: E402


def pytest_configure(config):
    only_hosts_markers(config)
    lane_markers(config)
