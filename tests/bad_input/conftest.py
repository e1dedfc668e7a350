"""The bad-input suite: hostile or unlucky input on every port of a real cluster. It shares the
integration tests' cluster helpers (tests/integration); its clusters check memory and liveness
when they stop (hostile.HostileCluster)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "integration"))

import pytest  # noqa: E402

from cluster import running  # noqa: E402
from hostile import HostileCluster  # noqa: E402


@pytest.fixture
def cluster(tmp_path):
    with running(HostileCluster(tmp_path)) as c:
        yield c
