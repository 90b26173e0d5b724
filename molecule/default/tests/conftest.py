"""Helpers for the verify step: run the collection's playbook again from a test."""

import os
import sys

import pytest

# Test helpers shared by the scenarios (molecule/shared/testlib).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "testlib"))


@pytest.fixture()
def hostname(host):
    return host.backend.get_hostname()


def pytest_configure(config):
    config.addinivalue_line("markers", "only_hosts(*names): run this test on these test hosts only")


def pytest_collection_modifyitems(config, items):
    """Tests marked only_hosts run on those hosts alone. testinfra would honour a module's own
    testinfra_hosts only without --hosts, which Molecule always passes; the other hosts' items
    are deselected, not skipped: they were never meant to run there."""
    keep, drop = [], []
    for item in items:
        only = item.get_closest_marker("only_hosts")
        spec = getattr(item, "callspec", None)
        if only and spec and "_testinfra_host" in spec.params:
            target = spec.params["_testinfra_host"].backend.get_hostname()
            (keep if target in only.args else drop).append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
