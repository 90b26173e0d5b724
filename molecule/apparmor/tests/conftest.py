"""Helpers for the verify step: shared test guests, and the collection's playbook run again."""

import os
import re
import subprocess
import sys

import pytest

# Test helpers shared by the scenarios (molecule/shared/testlib).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "testlib"))

from guests import running_guest  # noqa: E402  (importable only after the path above)

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PLAYBOOK = os.path.join(PROJECT, "playbooks", "kvm_host.yml")
# testinfra's host.ansible() runs our modules too: it must find the collection.
os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(PROJECT, ".collections"))

# A pool directory of the scenario (molecule.yml) that the shipped virt-aa-helper profile
# does not cover: only kvm_hardening's local rule lets virt-aa-helper read disks there.
TENANTS_DIR = "/data/libvirt/tenants"


def run_playbook(*args, limit):
    """Runs playbooks/kvm_host.yml against one test host with Molecule's inventory."""
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    env = dict(os.environ, ANSIBLE_PIPELINING="True", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return subprocess.run(
        ["ansible-playbook", "-i", inventory, "--limit", limit, PLAYBOOK, *args],
        capture_output=True, text=True, env=env, check=False, timeout=1200)


def recap(output, host):
    """The PLAY RECAP counters of one host, as a dict of ints."""
    line = re.search(r"^%s\s+:(.*)$" % re.escape(host), output, re.MULTILINE)
    assert line, "no PLAY RECAP line for %s in:\n%s" % (host, output[-3000:])
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", line.group(1))}


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
