"""A skipped test is a failed test here: a missing dependency or fixture must never make a
compatibility test vanish from the results (the test command installs everything they need)."""
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped, which this suite does not allow: {report.longrepr}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """The same for a whole module skipped at import (pytest.importorskip, a module-level skip)."""
    outcome = yield
    report = outcome.get_result()
    if report.outcome == "skipped":
        report.outcome = "failed"
