"""The converged VM is a fixed point of the playbook: check mode finds nothing to change.

(Molecule's idempotence step covers the second real run.)
"""

from conftest import recap, run_playbook


def test_check_mode_on_the_converged_host_reports_no_change(hostname):
    result = run_playbook("--check", "--diff", limit=hostname)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    counters = recap(result.stdout, hostname)
    print("\ncheck mode: %s" % counters)
    assert counters["changed"] == 0 and counters["failed"] == 0, result.stdout[-3000:]
