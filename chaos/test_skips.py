"""A chaos test that cannot run here is skipped with the reason, or is an error when the chaos
suite is required (CASTOR_REQUIRE_CHAOS=1, as CI sets it): conftest.py.

Runs pytest on test_suite_ci.py with a build folder that has no castord, which keeps its tests
from running here whoever runs them (root or not): no cluster is started.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from castor_chaos.cluster import build_dir
from castor_chaos.runner import CI_SUITE
from castor_chaos.topology import namespaces_available

HERE = Path(__file__).resolve().parent
CI_TESTS = len(CI_SUITE)  # test_suite_ci.py: one test per run of the CI suite


def run_ci_tests(empty_build: Path, **env) -> tuple[int, str]:
    """Pytest's exit status and output for test_suite_ci.py against ``empty_build``."""
    environ = {k: v for k, v in os.environ.items() if k != "CASTOR_REQUIRE_CHAOS"}
    environ.update(CASTOR_BUILD_DIR=str(empty_build),
                   CASTOR_PYTHON_PROTO=str(build_dir().resolve() / "python"), **env)
    done = subprocess.run([sys.executable, "-m", "pytest", "test_suite_ci.py", "-q", "-rs",
                           "-p", "no:cacheprovider"], cwd=HERE, env=environ, capture_output=True,
                          text=True, timeout=120)
    return done.returncode, done.stdout + done.stderr


@pytest.fixture
def reason(tmp_path):
    return namespaces_available() or f"{tmp_path}/tools/castord is not built"


def test_a_test_that_cannot_run_is_skipped_with_the_reason(tmp_path, reason):
    status, out = run_ci_tests(tmp_path)
    assert status == 0 and f"{CI_TESTS} skipped" in out.splitlines()[-1], out
    assert f": {reason}\n" in out, out


def test_required_it_is_an_error_instead(tmp_path, reason):
    status, out = run_ci_tests(tmp_path, CASTOR_REQUIRE_CHAOS="1")
    assert status != 0 and f"{CI_TESTS} errors" in out.splitlines()[-1], out
    assert f"CASTOR_REQUIRE_CHAOS=1 and the chaos suite cannot run: {reason}\n" in out, out
