"""Tests that need what a chaos run needs are marked, and skipped here with the reason when it is
missing; with CASTOR_REQUIRE_CHAOS=1 they fail instead.

  needs_namespaces  root, `ip netns` and iptables (test_topology.py)
  needs_cluster     those, /dev/fuse, and a built castord and castor-powerfs (the power
                    nemesis): test_suite_ci.py, test_planted_bugs.py

CI sets CASTOR_REQUIRE_CHAOS=1 (.ci/run): a CI run that could not run the chaos suite must not
end green. tools/test repeats every skip reason in its closing lines.
"""

import functools
import os

import pytest

from castor_chaos.cluster import castord_path, powerfs_path
from castor_chaos.power_disk import fuse_available
from castor_chaos.topology import namespaces_available

REQUIRE = "CASTOR_REQUIRE_CHAOS"
MARKS = {"needs_namespaces": "root, `ip netns` and iptables",
         "needs_cluster": "root, `ip netns`, iptables, /dev/fuse, a built castord and castor-powerfs"}


def pytest_configure(config):
    for mark, needs in MARKS.items():
        config.addinivalue_line("markers", f"{mark}: needs {needs}; skipped without ({REQUIRE}=1: "
                                "fails)")


@functools.cache
def missing(mark: str) -> str | None:
    """Why tests marked ``mark`` cannot run here, or None. Asked once a session: it runs `ip`."""
    problem = namespaces_available()
    if problem is None and mark == "needs_cluster":
        built = [p for p in (castord_path(), powerfs_path()) if not p.exists()]
        if built:
            problem = f"{built[0]} is not built"
        elif not fuse_available():
            problem = "no /dev/fuse (castor-powerfs, the power nemesis, needs it)"
    return problem


@pytest.hookimpl(tryfirst=True)  # before fixtures: test_topology's builds a topology
def pytest_runtest_setup(item):
    for mark in MARKS:
        problem = item.get_closest_marker(mark) and missing(mark)
        if not problem:
            continue
        if os.environ.get(REQUIRE) == "1":
            pytest.fail(f"{REQUIRE}=1 and the chaos suite cannot run: {problem}", pytrace=False)
        pytest.skip(problem)
