"""Runs the collection's playbook again from a verify step, and reads its recap."""

import os
import re
import subprocess

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY",
                         os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
PLAYBOOK = os.path.join(PROJECT, "playbooks", "kvm_host.yml")
# testinfra's host.ansible() runs our modules too: it must find the collection.
os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(PROJECT, ".collections"))


def playbook_command(*args, limit):
    """The ansible-playbook command line and environment that run playbooks/kvm_host.yml
    against one test host with Molecule's inventory."""
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    env = dict(os.environ, ANSIBLE_PIPELINING="True", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return ["ansible-playbook", "-i", inventory, "--limit", limit, PLAYBOOK, *args], env


def run_playbook(*args, limit, timeout=1500):
    """Runs playbooks/kvm_host.yml and waits for it. A whole run takes minutes in a TCG VM,
    hence the generous timeout."""
    argv, env = playbook_command(*args, limit=limit)
    return subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=timeout)


def recap(output, host):
    """The PLAY RECAP counters of one host, as a dict of ints."""
    line = re.search(r"^%s\s+:(.*)$" % re.escape(host), output, re.MULTILINE)
    assert line, "no PLAY RECAP line for %s in:\n%s" % (host, output[-3000:])
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", line.group(1))}


def start_playbook(*args, limit):
    """Starts playbooks/kvm_host.yml in the background, in a process group of its own so a
    test can kill it mid-run as a lost session or a crashed controller would."""
    argv, env = playbook_command(*args, limit=limit)
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)


def changed_tasks(output, host):
    """The names of the tasks and handlers that reported a change on one host, from the
    default callback's output."""
    changed, current = set(), None
    for line in output.splitlines():
        header = re.match(r"^(?:TASK|RUNNING HANDLER) \[(.*)\]", line)
        if header:
            current = header.group(1)
        elif line.startswith("changed: [%s]" % host):
            changed.add(current)
    return changed
