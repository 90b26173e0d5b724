"""playbooks/kvm_host.yml as a fleet operator drives it: rolling batches and the audit summary."""

import re

import pytest

from playbook import recap, run_playbook

HOSTS = ["kvmhost-bookworm", "kvmhost-trixie"]


# One run for both hosts: it needs the whole group.
@pytest.mark.only_hosts("kvmhost-trixie")
def test_serial_batches_then_audit_summary_per_host():
    result = run_playbook("--tags", "kvm_audit", "-e", "kvmcloud_serial=1", limit="kvm_hosts")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    # serial 1: the hardening play runs once per host, one batch after the other.
    assert output.count("PLAY [KVM hosts are hardened hypervisors]") == 2, output[-3000:]
    # The preflight play runs under any tag, then the summary names each host's state.
    assert "TASK [The guests are valid for each host]" in output
    # The result reads "msg: '...'" or '"msg": "..."', with the YAML or the default callback.
    summaries = re.findall(r"ok: \[(kvmhost-\w+)\] =>\s*\{?\s*\"?msg\"?: [\"'](\w+): (\d+) pass, (\d+) fail,", output)
    assert sorted(summary[0] for summary in summaries) == HOSTS, output[-3000:]
    for host, verdict, passed, failed in summaries:
        # A container shows no LSM: H1, Q1 and Q2 fail there, and the summary says which.
        assert (verdict, int(failed)) == ("FAILED", 3), (host, output[-3000:])
        assert int(passed) >= 15, (host, output[-3000:])
    assert "H1 Mandatory access control on" in output
    for host in HOSTS:
        assert recap(output, host)["changed"] == 0
