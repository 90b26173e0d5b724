"""Runs the collection's playbook again from a verify step, and reads its recap."""

import os
import re
import subprocess

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY",
                         os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
PLAYBOOK = os.path.join(PROJECT, "playbooks", "kvm_host.yml")
# testinfra's host.ansible() runs our modules too: it must find the collection.
os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(PROJECT, ".collections"))


def run_playbook(*args, limit, timeout=1500):
    """Runs playbooks/kvm_host.yml against one test host with Molecule's inventory. A whole
    run takes minutes in a TCG VM, hence the generous timeout."""
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    env = dict(os.environ, ANSIBLE_PIPELINING="True", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return subprocess.run(
        ["ansible-playbook", "-i", inventory, "--limit", limit, PLAYBOOK, *args],
        capture_output=True, text=True, env=env, check=False, timeout=timeout)


def recap(output, host):
    """The PLAY RECAP counters of one host, as a dict of ints."""
    line = re.search(r"^%s\s+:(.*)$" % re.escape(host), output, re.MULTILINE)
    assert line, "no PLAY RECAP line for %s in:\n%s" % (host, output[-3000:])
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", line.group(1))}
