"""Runs the collection's playbook again from a verify step, and reads its recap."""

import os
import re
import subprocess

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY",
                         os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
PLAYBOOK = os.path.join(PROJECT, "playbooks", "kvm_host.yml")
# testinfra's host.ansible() runs our modules too: it must find the collection.
os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(PROJECT, ".collections"))


def playbook_command(*args, limit, inventories=(), playbook=PLAYBOOK):
    """The ansible-playbook command line and environment that run PLAYBOOK (playbooks/kvm_host.yml)
    against the test hosts LIMIT names, with Molecule's inventory and then INVENTORIES."""
    sources = [os.environ["MOLECULE_INVENTORY_FILE"], *inventories]
    env = dict(os.environ, ANSIBLE_PIPELINING="True", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return ["ansible-playbook", *(arg for source in sources for arg in ("-i", source)),
            "--limit", limit, playbook, *args], env


def run_playbook(*args, limit, timeout=1500, playbook=PLAYBOOK):
    """Runs PLAYBOOK (playbooks/kvm_host.yml) and waits for it. A whole run takes minutes in a
    TCG VM, hence the generous timeout."""
    argv, env = playbook_command(*args, limit=limit, playbook=playbook)
    return subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=timeout)


def recap(output, host):
    """The PLAY RECAP counters of one host, as a dict of ints."""
    line = re.search(r"^%s\s+:(.*)$" % re.escape(host), output, re.MULTILINE)
    assert line, "no PLAY RECAP line for %s in:\n%s" % (host, output[-3000:])
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", line.group(1))}


def flat(result):
    """A run's output and errors with line wrapping undone and quoting left out: the callback
    may print a failure as YAML (wrapped, quotes doubled) or as JSON on stderr (quotes escaped),
    depending on the Ansible config in effect (the repository's or Molecule's)."""
    text = " ".join((result.stdout + result.stderr).split())
    return text.replace("\\'", "").replace("''", "").replace("'", "")


def changed_on(result, host):
    """The changed count of a run that must have succeeded, for one host."""
    assert result.returncode == 0, result.stdout[-3000:]
    return recap(result.stdout, host)["changed"]


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


def failures(output, host):
    """The failure reports of one host in the default callback's output, as (task name, report)
    pairs: each `fatal: [HOST]` or `failed: [HOST] (item=...)` line with the indented lines
    that continue it."""
    found, current, task = [], None, None
    for line in output.splitlines():
        header = re.match(r"^(?:TASK|RUNNING HANDLER) \[(.*)\]", line)
        if header:
            task = header.group(1)
        if re.match(r"^(fatal|failed): \[%s\]" % re.escape(host), line):
            current = [line]
            found.append((task, current))
        elif current is not None and (not line or line[0].isspace() or line == "}"):
            current.append(line)
        else:
            current = None
    return [(name, "\n".join(lines)) for name, lines in found]


def play_section(output, play):
    """The default callback's output of the play named PLAY, from its PLAY line to the next
    PLAY or PLAY RECAP line ("" when the play never started)."""
    match = re.search(r"^PLAY \[%s\].*?(?=^PLAY |\Z)" % re.escape(play), output, re.MULTILINE | re.DOTALL)
    return match.group(0) if match else ""
