"""Helpers for the verify step: shared test guests, and the collection's playbook run again."""

import os
import sys

import pytest

# Test helpers shared by the scenarios (molecule/shared/testlib).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "testlib"))
from guests import running_guest  # noqa: E402  (importable only after the path above)


# A pool directory of the scenario (molecule.yml) that the shipped virt-aa-helper profile
# does not cover: only kvm_hardening's local rule lets virt-aa-helper read disks there.
TENANTS_DIR = "/data/libvirt/tenants"


def pytest_configure(config):
    config.addinivalue_line("markers", "reboots_host: the test reboots the VM; it runs after all others")


def pytest_collection_modifyitems(items):
    """Tests that reboot the VM run last, so every other test sees the host as converge left it."""
    items.sort(key=lambda item: item.get_closest_marker("reboots_host") is not None)


@pytest.fixture(scope="module")
def hostname(host):
    return host.backend.get_hostname()


@pytest.fixture(scope="module")
def two_guests(host):
    """Two guests running at the same time, {name: QEMU pid}: one with its disk in libvirt's
    default directory, one with a backing chain in the tenants pool. Starting a guest under
    TCG inside this TCG VM takes about half a minute, so a test module starts them once."""
    with running_guest(host, "apparmor-guest-a") as pid_a, \
            running_guest(host, "apparmor-guest-b", image_dir=TENANTS_DIR, backing=True) as pid_b:
        yield {"apparmor-guest-a": pid_a, "apparmor-guest-b": pid_b}
