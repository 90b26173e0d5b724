#!/usr/bin/env python
"""Benchmarks of playbooks/kvm_host.yml on throwaway container test hosts.

Not part of the pass/fail suite: it measures, it does not judge. Run it from the checkout
after scripts/bootstrap.sh (venv on PATH, Debian base images built):

    benchmarks/bench.py [--runs 5] [--fleet 1,4,8] [--facts-calls 20] [--out benchmarks/results]

It writes RESULT.json and RESULT.md (a Markdown table) to --out, and prints the table.
Machines are noisy: each figure is the median of several runs with min and max, and the
ratios measured within one run (converge against its floor) matter more than seconds.

What it measures, each on fresh containers it starts and removes itself:
  converge   a fresh converge of the whole playbook (every role, one guest defined),
             against the floor: the packages the playbook installed, put on an identical
             fresh host by one bare `apt-get install`, plus starting libvirt's sockets.
  rerun      a no-change rerun on the converged host: wall time, tasks executed (not
             skipped) and module round trips (tasks that ran code on the host).
  fleet      the no-change rerun on 1, 4 and 8 hosts with forks = hosts.
  facts      kvm_host_facts called on its own, with and without virt-host-validate,
             against `ansible.builtin.ping` through the same connection (the floor of any
             module call).
"""

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = "kvmcloud-testbed:trixie"
PREFIX = "kvmbench-"
# Actions the controller runs itself: no round trip to the host.
LOCAL_ACTIONS = {
    "set_fact", "assert", "debug", "fail", "meta", "include_tasks", "import_tasks", "include_role",
    "import_role", "include_vars", "validate_argument_spec", "add_host", "group_by", "set_stats",
    "pause", "wait_for_connection",
}

HOST_VARS = {
    "ansible_connection": "community.docker.docker",
    "ansible_python_interpreter": "/usr/bin/python3",
    "kvm_host_allow_emulation": True,
    "kvm_network_bridges": [{"name": "br-guest"}],
    # kvm_guests_base_images: set by blank_image()
    "kvm_guests_list": [{"name": "bench1", "disks": [{"size_gib": 1, "base_image": "blank"}],
                         "nics": [{"network": "br-guest"}], "state": "shutoff"}],
}


def sh(*argv, **kwargs):
    return subprocess.run(argv, check=True, text=True, capture_output=True, **kwargs).stdout


def start_hosts(names):
    """Starts the containers side by side; each boots systemd."""
    procs = [subprocess.Popen([os.path.join(REPO, "tests/testbed/container.sh"), "start", name, IMAGE])
             for name in names]
    if any(proc.wait() != 0 for proc in procs):
        sys.exit("a test host did not start")


def remove_hosts(names):
    for name in names:
        subprocess.run([os.path.join(REPO, "tests/testbed/container.sh"), "remove", name],
                       check=False, capture_output=True)


def write_inventory(workdir, names):
    path = os.path.join(workdir, "inventory-%d.json" % len(names))
    inventory = {"kvm_hosts": {"hosts": {name: HOST_VARS for name in names}}}
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(inventory, handle)
    return path


def run_playbook(inventory, forks, workdir, playbook="playbooks/kvm_host.yml", extra=()):
    """Runs the playbook with the JSON callback; returns (seconds, parsed output)."""
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_FORKS=str(forks), ANSIBLE_NOCOLOR="1")
    started = time.monotonic()
    proc = subprocess.run(["ansible-playbook", "-i", inventory, os.path.join(REPO, playbook), *extra],
                          cwd=REPO, env=env, text=True, capture_output=True, check=False)
    took = time.monotonic() - started
    if proc.returncode != 0:
        log = os.path.join(workdir, "failed-run.json")
        with open(log, "w", encoding="utf-8") as handle:
            handle.write(proc.stdout + proc.stderr)
        sys.exit("ansible-playbook failed (rc %d), output in %s" % (proc.returncode, log))
    return took, json.loads(proc.stdout)


def count_tasks(output, host):
    """Tasks executed on one host (not skipped), the module round trips among them (a loop
    makes one per item; the controller's own actions and tasks delegated away make none), and
    the tasks that reported a change."""
    executed = round_trips = changed = 0
    for play in output["plays"]:
        for task in play["tasks"]:
            result = task["hosts"].get(host)
            if result is None or result.get("skipped"):
                continue
            executed += 1
            changed += bool(result.get("changed"))
            if result.get("action", "").rsplit(".", 1)[-1] in LOCAL_ACTIONS or result.get("_ansible_delegated_vars"):
                continue
            items = result.get("results")
            round_trips += len([item for item in items if not item.get("skipped")]) if items else 1
    return executed, round_trips, changed


def summary(values):
    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2),
            "max": round(max(values), 2), "runs": len(values)}


def blank_image(workdir):
    """The guest's base image, made on the controller (kvm_guests copies it with its checksum)."""
    path = os.path.join(workdir, "blank.qcow2")
    sh("qemu-img", "create", "-q", "-f", "qcow2", path, "64M")
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        digest.update(handle.read())
    HOST_VARS["kvm_guests_base_images"] = [{"name": "blank", "format": "qcow2", "src": path,
                                            "checksum": "sha256:" + digest.hexdigest()}]


def floor(name, packages):
    """The same packages with one bare apt-get install, and libvirt's sockets started."""
    started = time.monotonic()
    sh("docker", "exec", name, "sh", "-c",
       "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
       + " ".join(packages) + " >/dev/null && systemctl start libvirtd.socket virtlogd.socket")
    return time.monotonic() - started


def manual_packages(name):
    return set(sh("docker", "exec", name, "apt-mark", "showmanual").split())


def bench_converge(args, workdir):
    hosts = [PREFIX + "c1", PREFIX + "f1"]
    start_hosts(hosts)
    try:
        base = manual_packages(hosts[0])
        inventory = write_inventory(workdir, hosts[:1])
        converge_s = run_playbook(inventory, 1, workdir)[0]
        packages = sorted(manual_packages(hosts[0]) - base)
        floor_s = floor(hosts[1], packages)
        reruns = []
        for _run in range(args.runs):
            took, output = run_playbook(inventory, 1, workdir)
            reruns.append((took,) + count_tasks(output, hosts[0]))
        return {
            "converge_s": round(converge_s, 1), "floor_s": round(floor_s, 1),
            "ratio": round(converge_s / floor_s, 2), "packages": packages,
            "rerun_s": summary([r[0] for r in reruns]),
            "rerun_tasks": reruns[-1][1], "rerun_round_trips": reruns[-1][2],
            "rerun_changed": max(r[3] for r in reruns),
        }, inventory
    finally:
        remove_hosts(hosts[1:])


def bench_facts(args, inventory, host):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))

    def timed(module, module_args):
        values = []
        for _call in range(args.facts_calls):
            started = time.monotonic()
            subprocess.run(["ansible", host, "-i", inventory, "-b", "-m", module, "-a", module_args],
                           cwd=REPO, env=env, check=True, capture_output=True)
            values.append(time.monotonic() - started)
        return summary(values)

    return {
        "ping": timed("ansible.builtin.ping", ""),
        "facts": timed("kvmcloud.hypervisor.kvm_host_facts", "virt_host_validate=false"),
        "facts_with_validate": timed("kvmcloud.hypervisor.kvm_host_facts", "virt_host_validate=true"),
    }


def bench_fleet(args, workdir):
    """All hosts converge once, side by side; then each fleet size reruns its first N hosts."""
    names = [PREFIX + "n%d" % i for i in range(1, max(args.fleet) + 1)]
    start_hosts(names)
    try:
        run_playbook(write_inventory(workdir, names), len(names), workdir)
        results = {}
        for count in args.fleet:
            inventory = write_inventory(workdir, names[:count])
            results[count] = summary([run_playbook(inventory, count, workdir)[0] for _run in range(args.runs)])
        return results
    finally:
        remove_hosts(names)


def markdown(result):
    conv = result["converge"]
    lines = [
        "| Measure | Median | Min | Max | Notes |",
        "|---|---|---|---|---|",
        "| Fresh converge, whole playbook | %s s | | | floor (bare apt-get install + sockets): %s s; **ratio %s** |"
        % (conv["converge_s"], conv["floor_s"], conv["ratio"]),
        "| No-change rerun, 1 host | %(median)s s | %(min)s s | %(max)s s | " % conv["rerun_s"]
        + "%s tasks executed, %s module round trips, %s changed |"
        % (conv["rerun_tasks"], conv["rerun_round_trips"], conv["rerun_changed"]),
    ]
    for count, fleet in sorted(result["fleet"].items(), key=lambda item: int(item[0])):
        lines.append("| No-change rerun, %s hosts, forks %s | %s s | %s s | %s s | |"
                     % (count, count, fleet["median"], fleet["min"], fleet["max"]))
    for key, label in (("ping", "ansible.builtin.ping (floor of a module call)"),
                       ("facts", "kvm_host_facts"), ("facts_with_validate", "kvm_host_facts + virt-host-validate")):
        fig = result["facts"][key]
        lines.append("| %s | %s s | %s s | %s s | %s calls |" % (label, fig["median"], fig["min"], fig["max"], fig["runs"]))
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--fleet", default="1,4,8")
    parser.add_argument("--facts-calls", type=int, default=20)
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "results"))
    args = parser.parse_args()
    args.fleet = [int(count) for count in args.fleet.split(",") if count]
    workdir = tempfile.mkdtemp(prefix="kvmbench.")
    blank_image(workdir)
    try:
        converge_result, inventory = bench_converge(args, workdir)
        facts = bench_facts(args, inventory, PREFIX + "c1")
        remove_hosts([PREFIX + "c1"])
        fleet = bench_fleet(args, workdir)
    finally:
        remove_hosts([PREFIX + "c1", PREFIX + "f1"] + [PREFIX + "n%d" % i for i in range(1, max(args.fleet) + 1)])
    result = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "commit": sh("git", "-C", REPO, "rev-parse", "--short", "HEAD").strip(),
              "cpus": os.cpu_count(), "converge": converge_result, "fleet": fleet, "facts": facts}
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, "bench-" + result["when"].replace(":", ""))
    with open(stem + ".json", "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    table = markdown(result)
    with open(stem + ".md", "w", encoding="utf-8") as handle:
        handle.write("# Benchmark %s (commit %s, %s CPUs)\n\n%s" % (result["when"], result["commit"], result["cpus"], table))
    print(table)
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
