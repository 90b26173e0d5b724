"""playbooks/kvm_host.yml as a fleet operator drives it: rolling batches and the audit summary."""

import os
import re

import pytest
import testinfra

from playbook import recap, run_playbook
from test_kvm_audit import audit

HOSTS = ["kvmhost-bookworm", "kvmhost-trixie"]


def summary_of(output, hostname):
    """The summary task's message for one host: (verdict, passed, failed, text)."""
    block = re.search(r"TASK \[Audit summary is shown\].*?ok: \[%s\] =>(.*?)(?=ok: \[|PLAY RECAP)"
                      % re.escape(hostname), output, re.DOTALL)
    assert block, "no audit summary for %s in:\n%s" % (hostname, output[-3000:])
    # The result reads "msg: '...'" or '"msg": "..."', with the YAML or the default callback.
    counts = re.search(r"msg\"?: [\"'](\w+): (\d+) pass, (\d+) fail,", block.group(1))
    assert counts, block.group(1)
    return counts.group(1), int(counts.group(2)), int(counts.group(3)), " ".join(block.group(1).split())


# One run for both hosts: it needs the whole group, with no other test on it. It takes the
# trixie host's fixture to run in that host's lane (lanes.py), after the other lane.
@pytest.mark.only_hosts("kvmhost-trixie")
@pytest.mark.every_lane_done
def test_serial_batches_then_audit_summary_per_host(host):  # pylint: disable=unused-argument
    result = run_playbook("--tags", "kvm_audit", "-e", "kvmcloud_serial=1", limit="kvm_hosts")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    # serial 1: the hardening play runs once per host, one batch after the other.
    assert output.count("PLAY [KVM hosts are hardened hypervisors]") == 2, output[-3000:]
    # The preflight play runs under any tag.
    assert "TASK [The guests are valid for each host]" in output
    for hostname in HOSTS:
        assert recap(output, hostname)["changed"] == 0
        # The summary agrees with the audit of the live host, and names what fails: in a
        # container at least H1, Q1 and Q2 (no LSM), plus Q3 while a guest runs unconfined.
        target = testinfra.get_host("ansible://" + hostname,
                                    ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])
        failing = sorted(cid for cid, control in audit(target, hostname).items()
                         if control["status"] == "fail" and cid != "H5")
        verdict, passed, failed, text = summary_of(output, hostname)
        assert {"H1", "Q1", "Q2"} <= set(failing)
        assert (verdict, failed) == ("FAILED", len(failing)), (hostname, failing, text)
        assert passed >= 15, (hostname, text)
        for cid in failing:
            assert " %s " % cid in text, (hostname, cid, text)
        # It says what it left out, so its count and the full report's can be told apart, and
        # that the container's Q failures are H1's.
        assert "not checked here: H5 (virt-host-validate" in text, (hostname, text)
        for cid in ("Q1", "Q2"):
            assert re.search(r" %s [^:]*: follows from H1 \(no SELinux or AppArmor active in this docker container\)" % cid,
                             text), (hostname, cid, text)
