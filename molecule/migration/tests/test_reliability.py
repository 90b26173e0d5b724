"""What a rerun of playbooks/kvm_host.yml survives on a converged host: a run killed during
a package install or between a config write and the daemon's restart, package sources that
do not answer, and hand-made drift, which check mode must predict. Config that libvirt would
refuse is a case of the default scenario's test_bad_input.py: libvirt's lens reads it in the
preflight.

One host is enough: each case costs at least one whole playbook run. kvmmig-b, after the
migration tests (test_migration.py runs first): it declares no guest, so a run limited to it
leaves kvmmig-a's guest alone. This scenario's lane of the suite has room for these runs;
the default scenario's is the suite's longest. The cases put the host back as they found it,
so their order does not matter.
"""

import json
import subprocess
import time

import pytest

from host_state import SNAPSHOT, audit_controls
from playbook import changed_tasks, recap, run_playbook, start_playbook

pytestmark = pytest.mark.only_hosts("kvmmig-b")

# Installed by kvm_host, and nothing else depends on them: removing them leaves the rest of
# the host converged.
REMOVABLE = ["ovmf", "augeas-tools"]
# Installed by the role, left as a kill during its unpack would leave it.
REINSTALL = "libxml2-utils"
# What dpkg's status says of a package whose unpack was killed.
MARK_REINSTALL = ("sed -i '/^Package: %s$/{n;s/^Status: install ok installed$/Status: install reinstreq"
                  " half-installed/}' /var/lib/dpkg/status" % REINSTALL)
# kvm_host's one handler for its config changes: units reloaded, sockets re-created, daemon restarted.
HOST_HANDLER = ("kvmcloud.hypervisor.kvm_host : Reload the units, re-create the libvirt sockets and restart the"
                " daemon, as the changes need (kvm_host)")
# kvm_host's drop-in giving libvirtd's read-write socket its group and mode.
DROPIN = "/etc/systemd/system/libvirtd.socket.d/kvmcloud.conf"


def in_container(hostname, script, timeout=60):
    """A shell script in the test host, straight through docker: quicker than testinfra's
    Ansible backend, which matters while a playbook runs."""
    return subprocess.run(["docker", "exec", hostname, "sh", "-c", script], capture_output=True, text=True,
                          check=False, timeout=timeout)


def statuses(host):
    return {cid: control["status"] for cid, control in audit_controls(host).items()}


def kill_playbook_when(hostname, condition, then="true", args=(), timeout=600):
    """Starts the playbook, waits in the host until the shell condition holds, runs `then`
    there, and kills the playbook's whole process group: no handler, no cleanup."""
    watcher = "for i in $(seq %d); do if %s; then %s; exit 0; fi; sleep 0.05; done; exit 1" % (
        timeout * 20, condition, then)
    run = start_playbook(*args, limit=hostname)
    watch = subprocess.Popen(["docker", "exec", hostname, "sh", "-c", watcher], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        # A playbook that ends without reaching the point fails the test at once, not after
        # the watcher's whole timeout.
        deadline = time.monotonic() + timeout + 30
        while watch.poll() is None and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        if watch.poll() is None:
            try:
                watch.wait(timeout=5)
            except subprocess.TimeoutExpired:
                watch.kill()
    finally:
        subprocess.run(["kill", "-KILL", "--", "-%d" % run.pid], check=False)
        run.wait()
    _out, err = watch.communicate()
    assert watch.returncode == 0, "the playbook never reached the point to interrupt (it ended with %s): %s" % (
        run.returncode, err)


def daemon_times(hostname):
    """(ActiveState, when libvirtd last started, when qemu.conf last changed), in seconds."""
    out = in_container(hostname, "systemctl show --timestamp=unix --value --property=ActiveState,ActiveEnterTimestamp"
                                 " libvirtd.service; stat -c %Y /etc/libvirt/qemu.conf").stdout.split()
    return out[0], int(out[1].lstrip("@")), int(out[2])


def test_run_killed_during_the_package_install_from_emptied_lists_converges_on_rerun(host, hostname):
    before = statuses(host)
    assert in_container(hostname, "apt-get remove -y -qq %s" % " ".join(REMOVABLE), timeout=300).returncode == 0
    # dpkg journals each step under updates/ while it works: kill it there, as a crash would.
    kill_playbook_when(hostname, "ls /var/lib/dpkg/updates | grep -q '^[0-9]'",
                       then="pkill -KILL -x dpkg; pkill -KILL -x apt-get")
    audit_out = in_container(hostname, "ls /var/lib/dpkg/updates; dpkg --audit").stdout
    assert audit_out.strip(), "dpkg was not left interrupted"
    # The kill lands in an unpack or in a configure step, at random. A kill during a package's
    # unpack leaves it to reinstall, which `dpkg --configure -a` refuses: one such package is
    # written into dpkg's status as dpkg itself leaves it, so every rerun has one to repair.
    marked = in_container(hostname, MARK_REINSTALL + " && dpkg-query -W -f '${Status}' " + REINSTALL).stdout
    assert marked == "install reinstreq half-installed", marked
    # Emptied package lists with a fresh mtime, as image builders leave them: apt's
    # cache_valid_time alone would skip the update, and the install would find no package.
    assert in_container(hostname, "rm -rf /var/lib/apt/lists/* && touch /var/lib/apt/lists").returncode == 0
    result = run_playbook(limit=hostname)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "Packages an interrupted run left half installed are finished first" in output
    assert in_container(hostname, "dpkg --audit").stdout.strip() == ""
    installed = in_container(hostname, "dpkg-query -W -f '${Status}\\n' %s %s" % (" ".join(REMOVABLE), REINSTALL)).stdout
    assert installed.splitlines() == ["install ok installed"] * (len(REMOVABLE) + 1), installed
    assert statuses(host) == before


def test_run_killed_between_config_write_and_restart_converges_and_a_dropped_override_goes(hostname):
    setting = json.dumps({"kvm_host_qemu_conf": {"max_files": 32768}})
    # A running guest keeps the daemon up, so a stale one cannot hide behind an idle exit.
    in_container(hostname, "systemctl start libvirtd.service")
    try:
        kill_playbook_when(hostname, "grep -q '^max_files = 32768$' /etc/libvirt/qemu.conf", args=("-e", setting))
        state, started, written = daemon_times(hostname)
        assert state == "active" and started < written, "the daemon was restarted before the kill"
        result = run_playbook("-e", setting, limit=hostname)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-3000:]
        # Nothing to write this time: only the comparison of the daemon's start with the
        # file's change notices the restart the killed run never made.
        assert changed_tasks(output, hostname) == {
            "kvmcloud.hypervisor.kvm_host : A running daemon that has not loaded its config files since they changed restarts",
            HOST_HANDLER,
        }
        state, started, written = daemon_times(hostname)
        assert state == "active" and started >= written
    finally:
        # The override leaves the inventory: the role removes the key it recorded, and the
        # daemon loads libvirt's default again.
        restored = run_playbook(limit=hostname)
    output = restored.stdout + restored.stderr
    assert restored.returncode == 0, output[-3000:]
    assert in_container(hostname, "grep -c '^max_files' /etc/libvirt/qemu.conf").stdout.strip() == "0"
    assert HOST_HANDLER in changed_tasks(output, hostname)
    state, started, written = daemon_times(hostname)
    assert state == "active" and started >= written


def test_unreachable_package_sources_fail_clearly_and_change_nothing(host, hostname):
    # A mirror that does not answer: every download goes to a closed port on the host itself.
    broken = "/etc/apt/apt.conf.d/99kvmcloud-test-unreachable"
    assert in_container(hostname, "apt-get remove -y -qq ovmf && mkdir -p /root/held"
                                  " && mv /var/cache/apt/archives/ovmf_*.deb /root/held/ 2>/dev/null;"
                                  " printf 'Acquire::http::Proxy \"http://127.0.0.1:9/\";\\n"
                                  "Acquire::https::Proxy \"http://127.0.0.1:9/\";\\n' > " + broken,
                        timeout=300).returncode == 0
    try:
        before = host.run_expect([0], SNAPSHOT).stdout
        result = run_playbook(limit=hostname)
        output = result.stdout + result.stderr
        assert result.returncode != 0
        assert "kvm_host could not install" in output and "ovmf" in output, output[-3000:]
        assert "stopped before changing its configuration" in output
        assert "127.0.0.1" in output, "apt's own reason is missing:\n" + output[-3000:]
        assert recap(result.stdout, hostname)["changed"] == 0
        assert host.run_expect([0], SNAPSHOT).stdout == before
    finally:
        in_container(hostname, "rm -f %s; mv /root/held/*.deb /var/cache/apt/archives/ 2>/dev/null;"
                               " apt-get install -y -qq --no-install-recommends ovmf" % broken, timeout=600)
    assert in_container(hostname, "dpkg-query -W -f '${Status}' ovmf").stdout == "install ok installed"


def test_drift_is_predicted_by_check_mode_put_back_and_only_the_drift_reported(host, hostname):
    in_container(hostname, "systemctl start libvirtd.service")
    time.sleep(1)
    weaken = (
        # A weakened control in qemu.conf, a socket anyone may use, its drop-in opening it to
        # all from the next start (kvm_host skips the drop-ins' call only where the host facts
        # show them as wanted), and libvirt's NAT network.
        "sed -i 's/^seccomp_sandbox = 1$/seccomp_sandbox = 0/' /etc/libvirt/qemu.conf"
        " && chmod 0666 /run/libvirt/libvirt-sock"
        " && sed -i 's/^SocketMode=.*/SocketMode=0666/' " + DROPIN +
        " && virsh -q -c qemu:///system net-define /usr/share/libvirt/networks/default.xml"
        " && virsh -q -c qemu:///system net-start default"
        # A package left to reinstall by a killed unpack: four roles would repair it, the
        # first one does, and check mode must name that one repair only.
        " && " + MARK_REINSTALL)
    done = in_container(hostname, weaken)
    assert done.returncode == 0, done.stderr
    # Check mode first: it must name the same changes the real run then makes, and make none.
    preview = run_playbook("--check", limit=hostname)
    assert preview.returncode == 0, (preview.stdout + preview.stderr)[-3000:]
    predicted = changed_tasks(preview.stdout + preview.stderr, hostname)
    assert host.file("/run/libvirt/libvirt-sock").mode == 0o666
    result = run_playbook(limit=hostname)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert predicted == changed_tasks(output, hostname)
    host_role, hardening = "kvmcloud.hypervisor.kvm_host : ", "kvmcloud.hypervisor.kvm_hardening : "
    assert changed_tasks(output, hostname) == {
        host_role + "Packages an interrupted run left half installed are finished first",
        # qemu.conf changed under a running daemon, the drop-in and the socket mode.
        host_role + "A running daemon that has not loaded its config files since they changed restarts",
        host_role + "The libvirt unix sockets carry the configured group and modes",
        host_role + "Live sockets whose group or mode drifted are re-created",
        HOST_HANDLER,
        # The NAT network, and the forwarding libvirt turned on when it started.
        host_role + "The default NAT network of libvirt is removed",
        hardening + "Forwarding is set as decided now",
        hardening + "QEMU is confined (sVirt, seccomp, mount namespace, device ACL) and the daemon refuses plain TCP and audits",
        hardening + "Restart the libvirt daemon (kvm_hardening)",
    }
    assert host.file("/run/libvirt/libvirt-sock").mode == 0o770
    assert "SocketMode=0770" in host.file(DROPIN).content_string.splitlines()
    assert host.run_expect([0], "grep -c '^seccomp_sandbox = 1$' /etc/libvirt/qemu.conf").stdout.strip() == "1"
    assert "default" not in host.run_expect([0], "virsh -c qemu:///system net-list --all --name").stdout.split()
    assert host.file("/proc/sys/net/ipv4/ip_forward").content_string.strip() == "0"
    assert in_container(hostname, "dpkg-query -W -f '${Status}' " + REINSTALL).stdout == "install ok installed"
