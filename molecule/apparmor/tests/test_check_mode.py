"""Check mode on the converged VM: a preview of the collection's playbook finds nothing to do.

Molecule's idempotence step proves a second real run changes nothing; this proves the
preview agrees (a task that predicts a change it would not make misleads an operator
checking a fleet with --check). Runs first (file order), before the other tests define guests.
"""

from playbook import changed_tasks, recap, run_playbook


def test_check_mode_reports_no_changes(hostname):
    result = run_playbook("--check", limit=hostname)
    counters = recap(result.stdout, hostname)
    print("\nansible-playbook --check: %s" % counters)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert counters["failed"] == 0
    # The tasks by name: the summary line of a failed test is all a CI page may show.
    assert counters["changed"] == 0, "changed: %s" % sorted(changed_tasks(result.stdout, hostname))
