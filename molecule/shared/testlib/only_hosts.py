"""The only_hosts(*names) marker of the verify steps: a test runs on those test hosts alone."""


def pytest_configure(config):
    config.addinivalue_line("markers", "only_hosts(*names): run this test on these test hosts only")


def pytest_collection_modifyitems(config, items):
    """Tests marked only_hosts run on those hosts alone. testinfra would honour a module's own
    testinfra_hosts only without --hosts, which Molecule always passes; the other hosts' items
    are deselected, not skipped: they were never meant to run there."""
    keep, drop = [], []
    for item in items:
        only = item.get_closest_marker("only_hosts")
        spec = getattr(item, "callspec", None)
        if only and spec and "_testinfra_host" in spec.params:
            target = spec.params["_testinfra_host"].backend.get_hostname()
            (keep if target in only.args else drop).append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
