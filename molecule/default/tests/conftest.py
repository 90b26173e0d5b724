"""Helpers for the verify step: run the collection's playbook again from a test."""

import os
import re
import subprocess
import sys

import pytest

# Test helpers shared by the scenarios (molecule/shared/testlib).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "testlib"))

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PLAYBOOK = os.path.join(PROJECT, "playbooks", "kvm_host.yml")
# testinfra's host.ansible() runs our modules too: it must find the collection.
os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(PROJECT, ".collections"))


def run_playbook(*args, limit):
    """Runs playbooks/kvm_host.yml against one test host with Molecule's inventory."""
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    env = dict(os.environ, ANSIBLE_PIPELINING="True", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return subprocess.run(
        ["ansible-playbook", "-i", inventory, "--limit", limit, PLAYBOOK, *args],
        capture_output=True, text=True, env=env, check=False, timeout=600)


def recap(output, host):
    """The PLAY RECAP counters of one host, as a dict of ints."""
    line = re.search(r"^%s\s+:(.*)$" % re.escape(host), output, re.MULTILINE)
    assert line, "no PLAY RECAP line for %s in:\n%s" % (host, output[-3000:])
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", line.group(1))}


@pytest.fixture()
def hostname(host):
    return host.backend.get_hostname()
