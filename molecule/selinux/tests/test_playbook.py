"""The converged VM is a fixed point of the playbook, even with a guest running: a second
real run and a check-mode run change nothing, and the guest keeps its disk.

The second run is this scenario's idempotence check (molecule.yml runs no idempotence step:
under TCG a whole run costs about two minutes, and this one asserts the same, zero changed
and zero failed, naming the tasks that changed). A guest's running disk is labelled
svirt_image_t with the guest's pair, which the rules of its pool do not say: a role that
relabelled pool contents (restorecon -R) would report a change here and cut the guest off
its disk.
"""

import re

import pytest
from guests import disk_writes, guest_images, running_guests

from playbook import changed_tasks, recap, run_playbook

GUEST = "rerun"
POOL = "/srv/libvirt/tenants"


@pytest.fixture(scope="module")
def guest(host, domain_type):
    # The guest's log is where qemu-io answers: start it empty.
    host.run_expect([0], "rm -f /var/log/libvirt/qemu/%s.log" % GUEST)
    with running_guests(host, {GUEST: POOL}, domain_type) as pids:
        yield pids[GUEST]


def disk_label(host):
    return host.run_expect([0], "stat -c %%C %s" % guest_images(GUEST, POOL)[0]).stdout.strip()


def test_second_run_with_a_guest_running_changes_nothing(host, hostname, guest):
    before = disk_label(host)
    assert re.match(r"^system_u:object_r:svirt_image_t:s0:c\d+,c\d+$", before), before
    assert disk_writes(host, GUEST, 0)
    result = run_playbook(limit=hostname)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    counters = recap(result.stdout, hostname)
    print("\nsecond run: %s; disk %s -> %s" % (counters, before, disk_label(host)))
    assert counters["changed"] == 0 and counters["failed"] == 0, \
        "changed: %s\n%s" % (sorted(changed_tasks(result.stdout, hostname)), result.stdout[-3000:])
    assert disk_label(host) == before
    assert disk_writes(host, GUEST, 4096)


def test_check_mode_on_the_converged_host_reports_no_change(hostname, guest):
    result = run_playbook("--check", "--diff", limit=hostname)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    counters = recap(result.stdout, hostname)
    print("\ncheck mode: %s" % counters)
    assert counters["changed"] == 0 and counters["failed"] == 0, result.stdout[-3000:]
