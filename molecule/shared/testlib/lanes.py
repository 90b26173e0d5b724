"""One verify lane per test host: pytest-xdist runs each host's tests, in their order, on a
worker of its own (-n with one worker per host), so the hosts' tests run side by side: their
playbook runs wait on the hosts more than they use the controller's CPU.

A test that reads or runs on every host (a playbook run over the whole group, say) is marked
every_lane_done: it runs in its own host's lane after the other lanes have ended, so no other
host is half-way through a test that weakens a control and restores it.
"""

import os
import pathlib
import re
import time

import pytest
import yaml
from xdist.scheduler import LoadScopeScheduling

# The longest a lane waits for the others: a whole verify step's time limit.
OTHER_LANES_TIMEOUT = 3000


def pytest_configure(config):
    config.addinivalue_line("markers", "every_lane_done: run after every other host's lane has ended")


def inventory_hosts():
    """The test hosts of Molecule's inventory."""
    with open(os.environ["MOLECULE_INVENTORY_FILE"]) as handle:
        return sorted(yaml.safe_load(handle)["all"]["hosts"])


def lane_of(nodeid, hosts):
    """The host whose lane runs the test NODEID: the one its testinfra parameter names
    ("[ansible://HOST]", or "[ansible://HOST-" with other parameters after it; the longest
    name that fits), else one lane for the tests that take no host."""
    fits = [host for host in hosts if re.search(r"\[ansible://%s[]-]" % re.escape(host), nodeid)]
    return max(fits, key=len) if fits else "no host"


class HostLanes(LoadScopeScheduling):
    """xdist's scheduling by scope, a scope being a host's lane: each lane goes whole to one
    worker, in collection order."""

    def __init__(self, config, log=None):
        super().__init__(config, log)
        self.hosts = inventory_hosts()

    def _split_scope(self, nodeid):
        return lane_of(nodeid, self.hosts)


def pytest_xdist_make_scheduler(config, log):
    return HostLanes(config, log)


def lanes_dir(config):
    """Where the lanes leave word that they ended: the run's temporary directory, which holds
    each worker's own (xdist sets a worker's basetemp under it; pytest keeps the last few
    runs' and removes the rest)."""
    return pathlib.Path(config.option.basetemp).parent


def pytest_sessionfinish(session):
    """A worker whose session ends has run its lane, or was given none: it says so for the
    lanes that wait (every_lane_done)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        (lanes_dir(session.config) / ("%s.done" % worker)).touch()


@pytest.fixture(autouse=True)
def _every_lane_done(request):
    """Holds a test marked every_lane_done until every other worker has ended."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker or not request.node.get_closest_marker("every_lane_done"):
        return
    others = int(os.environ["PYTEST_XDIST_WORKER_COUNT"]) - 1
    deadline = time.time() + OTHER_LANES_TIMEOUT
    while time.time() < deadline:
        ended = [path.name for path in lanes_dir(request.config).glob("*.done") if path.name != worker + ".done"]
        if len(ended) >= others:
            return
        time.sleep(2)
    pytest.fail("the other verify lanes did not end within %d s" % OTHER_LANES_TIMEOUT)
