#!/usr/bin/env python
"""Benchmarks of the collection against its performance targets, on throwaway container hosts.

Not part of the pass/fail suite. Run it from the checkout after scripts/bootstrap.sh (venv on
PATH, Debian base images built):

    benchmarks/bench.py [--runs 5] [--fleet 1,8] [--only baseline,peer] [--baseline REV]

It prints ONE table (each target, the measured value, its limit, met or not, and the figures
behind it) and writes it with every figure to --out as bench-TIME.json and bench-TIME.md.
Machines are noisy: every comparison is a ratio of medians measured side by side in one run,
its two sides' no-change reruns alternating (A, B, A, B, ...).

Sections (--only picks some; the default runs them all), each on containers it starts and
removes itself, all from one image and, for the full playbook, with the demo's host vars
(inventories/local/hosts.yml: one restricted bridge, two guests defined and shut off; the
guests' base image is a blank qcow2 made here unless --base-image names one):
  converge  target 3: a fresh converge of the full playbook against the floor, the packages it
            installed put on an identical fresh host by one bare apt-get install, plus starting
            libvirt's sockets. Also reruns the converged host (targets 1a, 1b).
  baseline  target 1: the full playbook's no-change rerun, current code (this checkout's
            working tree) against the code this work started from (--baseline, default tag
            perf-baseline-0.3.0, exported by `git archive` into a temporary directory with its
            own collection path): tasks executed and round trips of the current code, and the
            wall-time ratio current/baseline.
  peer      target 2: the kvm_host role alone against the stackhpc.libvirt-host role (git
            ignored, in benchmarks/peers/; the bench prints how to get it), each converged on
            its own host, then their no-change reruns alternating.
  fleet     target 4: the full playbook's no-change rerun on the largest --fleet size with
            forks = hosts, against one host; then the same ratio for a playbook of pings
            alone, the floor this machine allows (the controller and every host share its
            CPUs, so N hosts cost N times the CPU on the same cores).
  facts     kvm_host_facts called on its own, with and without virt-host-validate, next to
            ansible.builtin.ping through the same connection (the floor of any module call).

Counting, per host, from the ansible.posix.json callback: a task is executed when it ran and
was not skipped; a round trip is a module run on the host, so a task whose action the
controller runs itself (set_fact, assert, include_*, ...; config_files when it reports
from_current) or that is delegated away makes none, a loop makes one per item not skipped,
and a retried task one per attempt.
"""

import argparse
import datetime
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = "kvmcloud-testbed:trixie"
PREFIX = "kvmbench-"
PLAYBOOK = os.path.join("playbooks", "kvm_host.yml")
DEMO_INVENTORY = os.path.join(REPO, "inventories", "local", "hosts.yml")
DEMO_HOST = "kvmcloud-demo"
BASELINE_REV = "perf-baseline-0.3.0"
# The commit that tag names (release 0.3.0), for a clone that did not fetch the tag.
BASELINE_COMMIT = "b2ebed0e7735edb8c953dcae48290f063c8c8b9d"
PEER_ROLE = "stackhpc.libvirt-host"
PEER_URL = "https://github.com/stackhpc/ansible-role-libvirt-host.git"
# The peer's commit the figures in README.md were measured on (v1.14.0-7-g9a947f7).
PEER_COMMIT = "9a947f74abdcd2e0d4e3371162f8299aef259271"
PEER_DIR = os.path.join(REPO, "benchmarks", "peers", PEER_ROLE)
SECTIONS = ("converge", "baseline", "peer", "fleet", "facts")
# The targets of issue 15.
LIMIT_ROUND_TRIPS = 40
LIMIT_TASKS = 100
LIMIT_BASELINE_RATIO = 0.35
LIMIT_PEER_RATIO = 0.5
LIMIT_CONVERGE_RATIO = 2.5
LIMIT_FLEET_RATIO = 3.0
# Round trips in the fleet floor's playbook (about 0.35 s each on one host here).
FLOOR_PINGS = 20
FLEET_TARGET_HOSTS = 8
# Actions the controller runs itself: no round trip to the host.
LOCAL_ACTIONS = {
    "set_fact", "assert", "debug", "fail", "meta", "include_tasks", "import_tasks", "include_role",
    "import_role", "include_vars", "validate_argument_spec", "add_host", "group_by", "set_stats",
    "pause", "import_playbook",
}


class BenchError(Exception):
    """A section could not be measured; the others still are."""


def log(message):
    print("%s %s" % (time.strftime("%H:%M:%S"), message), file=sys.stderr, flush=True)


def sh(*argv, **kwargs):
    return subprocess.run(argv, check=True, text=True, capture_output=True, **kwargs).stdout


class Code:
    """One version of the code under test: its ansible.cfg, its collection path (holding
    ansible_collections/kvmcloud/hypervisor, a link to the tree) and its roles path."""

    def __init__(self, label, root, collections, config=None, roles_path=None):
        self.label = label
        self.root = os.path.realpath(root)
        self.collections = collections
        self.config = config or os.path.join(root, "ansible.cfg")
        self.roles_path = roles_path or os.path.join(root, "roles")
        self.version = ""

    @classmethod
    def linked(cls, label, root, collections, **kwargs):
        """The tree at root, linked into collections as kvmcloud.hypervisor."""
        link = os.path.join(collections, "ansible_collections", "kvmcloud", "hypervisor")
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if not os.path.islink(link):
            os.symlink(root, link)
        return cls(label, root, collections, **kwargs)

    def env(self, forks=1, json_output=True):
        env = {key: value for key, value in os.environ.items() if key != "ANSIBLE_COLLECTIONS_PATHS"}
        env.update(ANSIBLE_CONFIG=self.config, ANSIBLE_COLLECTIONS_PATH=self.collections,
                   ANSIBLE_ROLES_PATH=self.roles_path, ANSIBLE_FORKS=str(forks), ANSIBLE_NOCOLOR="1")
        if json_output:
            env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
        return env

    def check_collection(self):
        """kvmcloud.hypervisor resolves to this tree and nowhere else; logs where it found it."""
        out = sh("ansible-galaxy", "collection", "list", "kvmcloud.hypervisor", "--format", "json",
                 env=self.env(json_output=False), cwd=self.root)
        found = {path: cols["kvmcloud.hypervisor"] for path, cols in json.loads(out).items()
                 if "kvmcloud.hypervisor" in cols}
        trees = {os.path.realpath(os.path.join(path, "kvmcloud", "hypervisor")) for path in found}
        if trees != {self.root}:
            raise BenchError("%s: kvmcloud.hypervisor resolves to %s, not only to %s"
                             % (self.label, sorted(trees), self.root))
        self.version = next(iter(found.values())).get("version", "")
        log("%s: kvmcloud.hypervisor %s from %s -> %s" % (self.label, self.version, next(iter(found)), self.root))


def check_origin(output, code, workdir):
    """Every task of a run was loaded from this code's tree (or the bench's own playbooks):
    proof that a baseline run ran the baseline's roles. Returns how many came from the tree."""
    workdir = os.path.realpath(workdir)
    from_tree = 0
    for play in output["plays"]:
        for task in play["tasks"]:
            path = task["task"].get("path") or ""
            if not path:
                continue
            path = os.path.realpath(path.rsplit(":", 1)[0])
            if path.startswith(code.root + os.sep):
                from_tree += 1
            elif not path.startswith(workdir + os.sep):
                raise BenchError("%s run: task %r comes from %s, outside %s"
                                 % (code.label, task["task"]["name"], path, code.root))
    if not from_tree:
        raise BenchError("%s run: no task came from %s" % (code.label, code.root))
    return from_tree


def start_hosts(names):
    """Starts the containers side by side; each boots systemd."""
    log("starting " + ", ".join(names))
    procs = [subprocess.Popen([os.path.join(REPO, "tests/testbed/container.sh"), "start", name, IMAGE])
             for name in names]
    if any(proc.wait() != 0 for proc in procs):
        raise BenchError("a test host did not start")


def remove_hosts(names):
    for name in names:
        subprocess.run([os.path.join(REPO, "tests/testbed/container.sh"), "remove", name],
                       check=False, capture_output=True)


def write_inventory(workdir, stem, names, host_vars):
    path = os.path.join(workdir, "inventory-%s.json" % stem)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"kvm_hosts": {"hosts": {name: host_vars for name in names}}}, handle)
    return path


def write_playbook(workdir, stem, plays):
    """A playbook of the bench's own (JSON is YAML), kept out of the tree and its linters."""
    path = os.path.join(workdir, stem + ".yml")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(plays, handle, indent=1)
    return path


def task_seconds(task):
    def parse(stamp):
        for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
            try:
                return datetime.datetime.strptime(stamp, fmt)
            except ValueError:
                pass
        raise ValueError(stamp)
    duration = task["task"]["duration"]
    return (parse(duration["end"]) - parse(duration["start"])).total_seconds() if "end" in duration else 0.0


class Delegation:
    """Which tasks are delegated away from their host, read from their source: ansible-core
    2.19 strips _ansible_delegated_vars from the results callbacks see. A task is delegated
    when it, or a block around it, has delegate_to (to another host than its own),
    local_action or connection: local."""

    def __init__(self):
        self.files = {}

    def __call__(self, task_path):
        path, _sep, line = (task_path or "").rpartition(":")
        if not path or not line.isdigit():
            return False
        if path not in self.files:
            self.files[path] = {}
            try:
                with open(path, encoding="utf-8") as handle:
                    self.walk(yaml.compose(handle), False, self.files[path])
            except (OSError, yaml.YAMLError):
                pass
        return self.files[path].get(int(line), False)

    def walk(self, node, inherited, lines):
        if isinstance(node, yaml.MappingNode):
            keys = {key.value: value for key, value in node.value if isinstance(key, yaml.ScalarNode)}
            delegate = keys.get("delegate_to")
            connection = keys.get("connection")
            inherited = inherited or "local_action" in keys or (
                isinstance(delegate, yaml.ScalarNode) and delegate.value.replace(" ", "") != "{{inventory_hostname}}") or (
                isinstance(connection, yaml.ScalarNode) and connection.value == "local")
            lines[node.start_mark.line + 1] = inherited
            for _key, value in node.value:
                self.walk(value, inherited, lines)
        elif isinstance(node, yaml.SequenceNode):
            for value in node.value:
                self.walk(value, inherited, lines)


DELEGATED = Delegation()


def count_tasks(output, host):
    """Tasks executed on one host (not skipped), the module round trips among them (a loop
    makes one per item not skipped, a retried task one per attempt; the controller's own
    actions and tasks delegated away make none), the tasks that reported a change, the tasks
    delegated away, and the seconds spent gathering facts."""
    counts = {"tasks": 0, "round_trips": 0, "changed": 0, "delegated": 0, "gather_facts_s": 0.0, "changed_tasks": []}
    for play in output["plays"]:
        for task in play["tasks"]:
            result = task["hosts"].get(host)
            if result is None or result.get("skipped"):
                continue
            counts["tasks"] += 1
            if result.get("changed"):
                counts["changed"] += 1
                counts["changed_tasks"].append(task["task"]["name"])
            action = result.get("action", "").rsplit(".", 1)[-1]
            if action in ("gather_facts", "setup"):
                counts["gather_facts_s"] += task_seconds(task)
            # kvmcloud.hypervisor.config_files answers on the controller when the facts show its files as asked.
            if action in LOCAL_ACTIONS or result.get("from_current"):
                continue
            delegated = DELEGATED(task["task"].get("path")) or bool(result.get("_ansible_delegated_vars"))
            items = result.get("results")
            # A loop's items carry ansible_loop_var; some modules return a "results" of their own.
            if not (isinstance(items, list) and items and all(isinstance(item, dict) and "ansible_loop_var" in item
                                                              for item in items)):
                items = [result]
            for item in items:
                if item.get("skipped"):
                    continue
                if delegated or item.get("_ansible_delegated_vars"):
                    counts["delegated"] += 1
                    continue
                counts["round_trips"] += int(item.get("attempts") or 1)
    counts["gather_facts_s"] = round(counts["gather_facts_s"], 2)
    return counts


def summary(values):
    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2),
            "max": round(max(values), 2), "runs": len(values)}


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def demo_host_vars(workdir, base_image):
    """The demo's host vars (inventories/local/hosts.yml), its base images replaced by one
    file on the controller: base_image, or a blank qcow2 (the guests are defined, not booted)."""
    with open(DEMO_INVENTORY, encoding="utf-8") as handle:
        host_vars = dict(yaml.safe_load(handle)["kvm_hosts"]["hosts"][DEMO_HOST])
    if not base_image:
        base_image = os.path.join(workdir, "blank.qcow2")
        sh("qemu-img", "create", "-q", "-f", "qcow2", base_image, "64M")
    base_image = os.path.abspath(base_image)
    checksum = "sha256:" + sha256(base_image)
    host_vars["kvm_guests_base_images"] = [
        {"name": image["name"], "format": "qcow2", "src": base_image, "checksum": checksum}
        for image in host_vars.get("kvm_guests_base_images", [])]
    templated = sorted(key for key, value in host_vars.items() if "{{" in json.dumps(value))
    if templated:
        sys.exit("%s: host vars %s are templates the bench cannot resolve here" % (DEMO_INVENTORY, templated))
    return host_vars


def describe_tree(tree):
    """The commit, and whether the working tree (what runs) differs from it."""
    commit = sh("git", "-C", tree, "rev-parse", "--short", "HEAD").strip()
    return commit + (" + uncommitted changes" if sh("git", "-C", tree, "status", "--porcelain").strip() else "")


class Bench:
    """The sections, sharing the work directory, the host vars and the current code."""

    def __init__(self, args, workdir):
        self.args = args
        self.sections = set(args.only)
        self.workdir = workdir
        self.started = set()
        self.runs = 0
        self.host_vars = demo_host_vars(workdir, args.base_image)
        self.current = Code.linked("current", REPO, os.path.join(workdir, "collections-current"))

    def start(self, names):
        self.started.update(names)
        start_hosts(names)

    def remove(self, names):
        remove_hosts(names)
        self.started.difference_update(names)

    def run(self, code, inventory, playbook, host, forks=1, what="run"):
        """One ansible-playbook run with the JSON callback; returns its wall time and counts."""
        started = time.monotonic()
        proc = subprocess.run(["ansible-playbook", "-i", inventory, playbook], cwd=code.root, env=code.env(forks),
                              text=True, capture_output=True, check=False)
        took = time.monotonic() - started
        if proc.returncode != 0:
            path = os.path.join(self.workdir, "failed-%s-%s.log" % (code.label, host))
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(proc.stdout + proc.stderr)
            raise BenchError("%s %s on %s failed (rc %d), output in %s" % (code.label, what, host, proc.returncode, path))
        self.runs += 1
        with open(os.path.join(self.workdir, "run-%02d-%s-%s.json" % (self.runs, code.label, host)), "w", encoding="utf-8") as handle:
            handle.write(proc.stdout)
        output = json.loads(proc.stdout)
        check_origin(output, code, self.workdir)
        record = dict(count_tasks(output, host), seconds=round(took, 2))
        log("%s %s on %s: %.1f s, %d tasks, %d round trips, %d changed"
            % (code.label, what, host, took, record["tasks"], record["round_trips"], record["changed"]))
        return record

    def alternate(self, sides):
        """No-change reruns, the sides taking turns: {label: [record, ...]}."""
        records = {label: [] for label, _code, _inventory, _playbook, _host in sides}
        for run in range(self.args.runs):
            for label, code, inventory, playbook, host in sides:
                records[label].append(self.run(code, inventory, playbook, host,
                                               what="rerun %d/%d" % (run + 1, self.args.runs)))
        return records

    def baseline_code(self):
        """The baseline exported into the work directory, with its own collection path."""
        rev = self.args.baseline
        if rev == BASELINE_REV and subprocess.run(["git", "-C", REPO, "rev-parse", "--verify", "-q", rev + "^{commit}"],
                                                  capture_output=True, check=False).returncode != 0:
            rev = BASELINE_COMMIT
        commit = sh("git", "-C", REPO, "rev-parse", "--verify", rev + "^{commit}").strip()
        tree = os.path.join(self.workdir, "baseline")
        os.makedirs(tree)
        archive = subprocess.run(["git", "-C", REPO, "archive", commit], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tree], input=archive, check=True)
        code = Code.linked("baseline", tree, os.path.join(tree, ".collections"))
        code.check_collection()
        return code, commit

    def full_playbook(self, result):
        """Converge (and its floor), the no-change reruns against the baseline, the facts.
        Fills result as it goes, so what was measured before a failure is kept."""
        sections = self.sections
        host, floor_host, base_host = PREFIX + "c1", PREFIX + "f1", PREFIX + "b1"
        names = [host] + ([floor_host] if "converge" in sections else []) + ([base_host] if "baseline" in sections else [])
        try:
            self.start(names)
            self.current.check_collection()
            playbook = os.path.join(REPO, PLAYBOOK)
            inventory = write_inventory(self.workdir, "c1", [host], self.host_vars)
            before = manual_packages(host)
            converge = self.run(self.current, inventory, playbook, host, what="fresh converge")
            result["current_converge"] = converge
            if "converge" in sections:
                result["converge"] = self.floor(converge, floor_host, sorted(manual_packages(host) - before))
                self.remove([floor_host])
            sides = [("current", self.current, inventory, playbook, host)]
            if "baseline" in sections:
                try:
                    code, commit = self.baseline_code()
                    base_inventory = write_inventory(self.workdir, "b1", [base_host], self.host_vars)
                    base_playbook = os.path.join(code.root, PLAYBOOK)
                    base_converge = self.run(code, base_inventory, base_playbook, base_host, what="fresh converge")
                    sides.insert(0, ("baseline", code, base_inventory, base_playbook, base_host))
                    result["baseline"] = {"rev": self.args.baseline, "commit": commit[:12], "version": code.version,
                                          "converge": base_converge}
                except (BenchError, subprocess.CalledProcessError) as err:
                    result["baseline"] = {"error": str(err)}
                    log("baseline: " + str(err))
            if "converge" in sections or "baseline" in sections:
                records = self.alternate(sides)
                result["rerun"] = rerun_summary(records["current"])
                if "baseline" in records:
                    result["baseline"]["rerun"] = rerun_summary(records["baseline"])
                    result["baseline"]["ratio"] = round(result["rerun"]["seconds"]["median"]
                                                        / result["baseline"]["rerun"]["seconds"]["median"], 2)
            if "facts" in sections:
                result["facts"] = self.facts(inventory, host)
        finally:
            self.remove(names)

    def floor(self, converge, name, packages):
        """The same packages with one bare apt-get install, and libvirt's sockets started."""
        started = time.monotonic()
        sh("docker", "exec", name, "sh", "-c",
           "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
           + " ".join(packages) + " >/dev/null && systemctl start libvirtd.socket virtlogd.socket")
        floor_s = time.monotonic() - started
        log("floor on %s: %.1f s (%d packages)" % (name, floor_s, len(packages)))
        return {"converge_s": converge["seconds"], "floor_s": round(floor_s, 1),
                "ratio": round(converge["seconds"] / floor_s, 2), "packages": packages}

    def facts(self, inventory, host):
        env = self.current.env(json_output=False)

        def timed(module, module_args):
            values = []
            for _call in range(self.args.facts_calls):
                started = time.monotonic()
                subprocess.run(["ansible", host, "-i", inventory, "-b", "-m", module, "-a", module_args],
                               cwd=REPO, env=env, check=True, capture_output=True)
                values.append(time.monotonic() - started)
            return summary(values)

        log("kvm_host_facts: %d calls each" % self.args.facts_calls)
        return {
            "ping": timed("ansible.builtin.ping", ""),
            "facts": timed("kvmcloud.hypervisor.kvm_host_facts", "virt_host_validate=false"),
            "facts_with_validate": timed("kvmcloud.hypervisor.kvm_host_facts", "virt_host_validate=true"),
        }

    def peer(self, result):
        """kvm_host alone against stackhpc.libvirt-host, each converged on its own host."""
        peer_host, ours_host = PREFIX + "p1", PREFIX + "k1"
        base_vars = {key: self.host_vars[key] for key in ("ansible_connection", "ansible_python_interpreter")}
        peer_code = Code("peer", self.args.peer_dir, self.current.collections, config=self.current.config,
                         roles_path=os.path.dirname(os.path.abspath(self.args.peer_dir)))
        role = os.path.basename(os.path.abspath(self.args.peer_dir))
        # The peer needs facts and, in a container, no VT; its vars/Debian.yml (loaded by its
        # prelude, above any inventory or play var) already names Debian's packages.
        peer_playbook = write_playbook(self.workdir, "peer", [{
            "name": "stackhpc.libvirt-host", "hosts": "kvm_hosts", "become": True, "gather_facts": True,
            "vars": {"libvirt_host_require_vt": False}, "roles": [role]}])
        ours_playbook = write_playbook(self.workdir, "kvm_host", [{
            "name": "kvm_host alone", "hosts": "kvm_hosts", "become": True, "gather_facts": False,
            "roles": ["kvmcloud.hypervisor.kvm_host"]}])
        peer_inventory = write_inventory(self.workdir, "p1", [peer_host], base_vars)
        ours_inventory = write_inventory(self.workdir, "k1", [ours_host], dict(base_vars, kvm_host_allow_emulation=True))
        names = [peer_host, ours_host]
        try:
            self.start(names)
            base_packages = installed_packages(peer_host)
            # The peer never refreshes apt, and a fresh image has no package lists.
            log("peer: apt update_cache on %s" % peer_host)
            sh("ansible", peer_host, "-i", peer_inventory, "-b", "-m", "ansible.builtin.apt", "-a", "update_cache=true",
               env=peer_code.env(json_output=False), cwd=REPO)
            peer_converge = self.run(peer_code, peer_inventory, peer_playbook, peer_host, what="fresh converge")
            ours_converge = self.run(self.current, ours_inventory, ours_playbook, ours_host, what="fresh converge")
            records = self.alternate([("peer", peer_code, peer_inventory, peer_playbook, peer_host),
                                      ("ours", self.current, ours_inventory, ours_playbook, ours_host)])
            peer = rerun_summary(records["peer"])
            ours = rerun_summary(records["ours"])
            result.update({
                "peer_role": role, "peer_revision": peer_revision(self.args.peer_dir),
                "peer": dict(peer, converge_s=peer_converge["seconds"],
                             packages_added=installed_packages(peer_host) - base_packages),
                "ours": dict(ours, converge_s=ours_converge["seconds"],
                             packages_added=installed_packages(ours_host) - base_packages),
                "ratio": round(ours["seconds"]["median"] / peer["seconds"]["median"], 2),
            })
        finally:
            self.remove(names)

    def fleet(self, result):
        """All hosts converge once, side by side; then the fleet sizes take turns rerunning
        their first N hosts with forks N."""
        sizes = sorted(set(self.args.fleet) | {1})
        names = [PREFIX + "n%d" % i for i in range(1, sizes[-1] + 1)]
        playbook = os.path.join(REPO, PLAYBOOK)
        try:
            self.start(names)
            converge = self.run(self.current, write_inventory(self.workdir, "fleet", names, self.host_vars), playbook,
                                names[0], forks=len(names), what="fresh converge of %d hosts" % len(names))
            inventories = {count: write_inventory(self.workdir, "fleet-%d" % count, names[:count], self.host_vars)
                           for count in sizes}
            seconds = {count: [] for count in sizes}
            for run in range(self.args.runs):
                for count in sizes:
                    seconds[count].append(self.run(self.current, inventories[count], playbook, names[0], forks=count,
                                                   what="rerun %d/%d, %d hosts" % (run + 1, self.args.runs, count))["seconds"])
            result.update(converge_s=converge["seconds"], largest=sizes[-1],
                          sizes={str(count): summary(seconds[count]) for count in sizes})
            result["ratio"] = round(result["sizes"][str(sizes[-1])]["median"] / result["sizes"]["1"]["median"], 2)
            result["floor"] = self.fleet_floor(names, sizes[-1])
        finally:
            self.remove(names)

    def fleet_floor(self, names, largest):
        """The same ratio for a playbook of FLOOR_PINGS ansible.builtin.ping tasks: what the
        machine allows any playbook of module calls, the controller and every host sharing its
        CPUs. The sizes take turns, as the reruns do."""
        playbook = write_playbook(self.workdir, "pings", [{
            "name": "Module round trips and nothing else", "hosts": "all", "gather_facts": False,
            "tasks": [{"name": "Ping %d" % number, "ansible.builtin.ping": {}} for number in range(FLOOR_PINGS)]}])
        inventories = {count: write_inventory(self.workdir, "floor-%d" % count, names[:count], self.host_vars)
                       for count in (1, largest)}
        env = self.current.env(json_output=False)
        seconds = {1: [], largest: []}
        for _run in range(self.args.runs):
            for count in (1, largest):
                env["ANSIBLE_FORKS"] = str(count)
                started = time.monotonic()
                subprocess.run(["ansible-playbook", "-i", inventories[count], playbook], cwd=REPO, env=env,
                               check=True, capture_output=True)
                seconds[count].append(time.monotonic() - started)
        floor = {"pings": FLOOR_PINGS, "sizes": {str(count): summary(values) for count, values in seconds.items()}}
        floor["ratio"] = round(floor["sizes"][str(largest)]["median"] / floor["sizes"]["1"]["median"], 2)
        log("fleet floor: %d pings, %d hosts / 1 host: %.2fx" % (FLOOR_PINGS, largest, floor["ratio"]))
        return floor


def rerun_summary(records):
    """Wall time over the reruns; the counts of the last one, and the most changes any reported."""
    last = records[-1]
    return {"seconds": summary([record["seconds"] for record in records]),
            "tasks": last["tasks"], "round_trips": last["round_trips"], "delegated": last["delegated"],
            "gather_facts_s": last["gather_facts_s"], "changed": max(record["changed"] for record in records),
            "changed_tasks": sorted({name for record in records for name in record["changed_tasks"]}),
            "counts_stable": len({(r["tasks"], r["round_trips"]) for r in records}) == 1}


def manual_packages(name):
    return set(sh("docker", "exec", name, "apt-mark", "showmanual").split())


def installed_packages(name):
    out = sh("docker", "exec", name, "dpkg-query", "-W", "-f=${db:Status-Status}\\n")
    return out.split().count("installed")


def peer_revision(peer_dir):
    """The peer's commit: from its git checkout, or from the REVISION file an archive got."""
    if os.path.exists(os.path.join(peer_dir, ".git")):
        return sh("git", "-C", peer_dir, "rev-parse", "HEAD").strip()
    path = os.path.join(peer_dir, "REVISION")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    return "unknown"


def peer_missing(peer_dir):
    if os.path.exists(os.path.join(peer_dir, "tasks", "main.yml")):
        return ""
    path = os.path.abspath(peer_dir)
    where = ""
    if path.startswith(REPO + os.sep):
        path, where = os.path.relpath(path, REPO), ", from the top of the checkout"
    return ("The peer role %s is not in %s. It is not part of this repository; get it with%s:\n"
            "  git clone %s %s && git -C %s checkout -q %s\n"
            "or run the bench with --only converge,baseline,fleet,facts."
            % (PEER_ROLE, path, where, PEER_URL, path, path, PEER_COMMIT))


def verdict(value, limit):
    return "met" if value <= limit else "NOT met"


def rerun_figures(rerun):
    sec = rerun["seconds"]
    text = "median %s s (min %s, max %s, %d runs); %s tasks, %s round trips" % (
        sec["median"], sec["min"], sec["max"], sec["runs"], rerun["tasks"], rerun["round_trips"])
    if rerun["changed"]:
        text += ", **%s changed: not a no-change rerun** (%s)" % (rerun["changed"], "; ".join(rerun["changed_tasks"]))
    if not rerun["counts_stable"]:
        text += " (counts varied between reruns)"
    return text


def targets(result):
    """The table's rows: (target, measured, limit, verdict, figures)."""
    rows = []
    full = result.get("full", {})
    rerun = full.get("rerun")
    if rerun:
        for key, limit, label in (("round_trips", LIMIT_ROUND_TRIPS, "1a. Full playbook, no-change rerun: round trips"),
                                  ("tasks", LIMIT_TASKS, "1b. Full playbook, no-change rerun: tasks executed")):
            rows.append((label, str(rerun[key]), "<= %s" % limit, verdict(rerun[key], limit),
                         "current: " + rerun_figures(rerun)))
    else:
        rows.append(("1a/1b. Full playbook, no-change rerun: round trips, tasks", "not run",
                     "<= %s, <= %s" % (LIMIT_ROUND_TRIPS, LIMIT_TASKS), "", full.get("error", "")))
    baseline = full.get("baseline", {})
    if "ratio" in baseline and rerun:
        ratio = baseline["ratio"]
        rows.append(("1c. Full playbook, no-change rerun: wall time, current / baseline", "%.2fx" % ratio,
                     "<= %sx" % LIMIT_BASELINE_RATIO, verdict(ratio, LIMIT_BASELINE_RATIO),
                     "current median %s s / baseline median %s s; baseline %s (%s): %s"
                     % (rerun["seconds"]["median"], baseline["rerun"]["seconds"]["median"], baseline["rev"],
                        baseline["commit"], rerun_figures(baseline["rerun"]))))
    else:
        rows.append(("1c. Full playbook, no-change rerun: wall time, current / baseline", "not run",
                     "<= %sx" % LIMIT_BASELINE_RATIO, "", baseline.get("error", full.get("error", ""))))
    peer = result.get("peer", {})
    if "ratio" in peer:
        rows.append(("2. kvm_host alone / %s, no-change rerun" % peer["peer_role"], "%.2fx" % peer["ratio"],
                     "<= %sx" % LIMIT_PEER_RATIO, verdict(peer["ratio"], LIMIT_PEER_RATIO),
                     "ours: %s; peer (%s, fact gathering %s s of each run): %s; packages added: ours %s, peer %s"
                     % (rerun_figures(peer["ours"]), peer["peer_revision"][:12], peer["peer"]["gather_facts_s"],
                        rerun_figures(peer["peer"]), peer["ours"]["packages_added"], peer["peer"]["packages_added"])))
    else:
        rows.append(("2. kvm_host alone / %s, no-change rerun" % PEER_ROLE, "not run", "<= %sx" % LIMIT_PEER_RATIO,
                     "", peer.get("error", "")))
    conv = full.get("converge")
    if conv:
        rows.append(("3. Full playbook, fresh converge / bare-install floor", "%.2fx" % conv["ratio"],
                     "<= %sx" % LIMIT_CONVERGE_RATIO, verdict(conv["ratio"], LIMIT_CONVERGE_RATIO),
                     "converge %s s, floor %s s (one apt-get install of the %d packages the playbook asked for, sockets started)"
                     % (conv["converge_s"], conv["floor_s"], len(conv["packages"]))))
    else:
        rows.append(("3. Full playbook, fresh converge / bare-install floor", "not run",
                     "<= %sx" % LIMIT_CONVERGE_RATIO, "", full.get("error", "")))
    fleet = result.get("fleet", {})
    if fleet.get("largest") == 1:
        fleet = dict(fleet, error="--fleet named no size above 1")
    if "ratio" in fleet and "error" not in fleet:
        largest = fleet["largest"]
        note = "" if largest == FLEET_TARGET_HOSTS else " (the target is for %d hosts)" % FLEET_TARGET_HOSTS
        rows.append(("4. Fleet of %d hosts, forks %d / 1 host, no-change rerun%s" % (largest, largest, note),
                     "%.2fx" % fleet["ratio"], "<= %sx" % LIMIT_FLEET_RATIO,
                     verdict(fleet["ratio"], LIMIT_FLEET_RATIO),
                     "; ".join("%s host(s): median %s s (min %s, max %s)" % (count, fig["median"], fig["min"], fig["max"])
                               for count, fig in sorted(fleet["sizes"].items(), key=lambda item: int(item[0])))))
        if "floor" in fleet:
            floor = fleet["floor"]
            rows.append(("4. Floor of the fleet ratio on this machine (information): %d pings, %d hosts / 1 host"
                         % (floor["pings"], largest), "%.2fx" % floor["ratio"], "", "",
                         "a playbook of nothing but module round trips; "
                         + "; ".join("%s host(s): median %s s" % (count, fig["median"])
                                     for count, fig in sorted(floor["sizes"].items(), key=lambda item: int(item[0])))))
    else:
        rows.append(("4. Fleet of %d hosts, forks %d / 1 host, no-change rerun" % (FLEET_TARGET_HOSTS, FLEET_TARGET_HOSTS),
                     "not run", "<= %sx" % LIMIT_FLEET_RATIO, "", fleet.get("error", "")))
    info = []
    if "current_converge" in full:
        info.append("current fresh converge %s s" % full["current_converge"]["seconds"])
    if "converge" in baseline:
        info.append("baseline fresh converge %s s" % baseline["converge"]["seconds"])
    if "peer" in peer:
        info.append("kvm_host alone fresh converge %s s, peer %s s" % (peer["ours"]["converge_s"], peer["peer"]["converge_s"]))
    if "converge_s" in fleet:
        info.append("%d hosts fresh converge %s s" % (fleet["largest"], fleet["converge_s"]))
    if info:
        rows.append(("Fresh converges (information)", "", "", "", "; ".join(info)))
    for key, label in (("ping", "ansible.builtin.ping (floor of a module call)"), ("facts", "kvm_host_facts"),
                       ("facts_with_validate", "kvm_host_facts + virt-host-validate")):
        if key in full.get("facts", {}):
            fig = full["facts"][key]
            rows.append(("%s (information)" % label, "%s s" % fig["median"], "", "",
                         "median of %d calls (min %s, max %s)" % (fig["runs"], fig["min"], fig["max"])))
    return rows


def markdown(rows):
    lines = ["| Target | Measured | Limit | Result | Figures |", "|---|---|---|---|---|"]
    for row in rows:
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    return "\n".join(lines) + "\n"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=5, help="no-change reruns per side (default 5)")
    parser.add_argument("--fleet", default="1,8", help="fleet sizes; 1 is always added (default 1,8)")
    parser.add_argument("--facts-calls", type=int, default=20)
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help="sections to run, comma-separated, from: %s (default: all)" % ", ".join(SECTIONS))
    parser.add_argument("--baseline", default=BASELINE_REV, help="git revision of the baseline (default %s)" % BASELINE_REV)
    parser.add_argument("--peer-dir", default=PEER_DIR, help="the peer role's directory (default %s)" % os.path.relpath(PEER_DIR, REPO))
    parser.add_argument("--base-image", help="qcow2 for the guests' base image (default: a blank 64 MiB qcow2)")
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "results"))
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory: inventories, playbooks, each run's JSON output")
    args = parser.parse_args()
    args.fleet = [int(count) for count in args.fleet.split(",") if count]
    args.only = [section.strip() for section in args.only.split(",") if section.strip()]
    unknown = sorted(set(args.only) - set(SECTIONS))
    if unknown:
        parser.error("--only: unknown sections %s (known: %s)" % (", ".join(unknown), ", ".join(SECTIONS)))
    if args.runs < 1:
        parser.error("--runs must be 1 or more")
    return args


def main():
    args = parse_args()
    sections = set(args.only)
    if "peer" in sections and peer_missing(args.peer_dir):
        sys.exit(peer_missing(args.peer_dir))
    if subprocess.run(["docker", "image", "inspect", IMAGE], check=False, capture_output=True).returncode:
        sys.exit("image %s missing: run scripts/bootstrap.sh (bootstrap trixie) first" % IMAGE)
    workdir = tempfile.mkdtemp(prefix="kvmbench.")
    result = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": describe_tree(REPO),
              "cpus": os.cpu_count(), "runs": args.runs, "sections": [s for s in SECTIONS if s in sections],
              "image": IMAGE, "base_image": args.base_image or "blank 64 MiB qcow2"}
    bench = Bench(args, workdir)
    failed = False
    try:
        for section, method in (("full", bench.full_playbook), ("peer", bench.peer), ("fleet", bench.fleet)):
            wanted = {"full": {"converge", "baseline", "facts"}, "peer": {"peer"}, "fleet": {"fleet"}}[section]
            if not wanted & sections:
                continue
            result[section] = {}
            try:
                method(result[section])
            except (BenchError, subprocess.CalledProcessError) as err:
                failed = True
                detail = err.stderr.strip()[-500:] if isinstance(err, subprocess.CalledProcessError) and err.stderr else ""
                result[section]["error"] = ("%s %s" % (err, detail)).strip()
                log("%s: %s" % (section, result[section]["error"]))
    finally:
        remove_hosts(sorted(bench.started))
    rows = targets(result)
    result["targets"] = [dict(zip(("target", "measured", "limit", "result", "figures"), row)) for row in rows]
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, "bench-" + result["when"].replace(":", ""))
    with open(stem + ".json", "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    table = markdown(rows)
    header = "Benchmark %s: current %s, %s CPUs, %d no-change reruns per side, sections %s, guests' base image: %s" % (
        result["when"], result["commit"], result["cpus"], args.runs, ",".join(result["sections"]), result["base_image"])
    with open(stem + ".md", "w", encoding="utf-8") as handle:
        handle.write("# %s\n\n%s" % (header, table))
    print(header + "\n\n" + table)
    print("Written: %s.json, %s.md" % (stem, stem))
    if failed or args.keep:
        print("Work directory kept: " + workdir, file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
