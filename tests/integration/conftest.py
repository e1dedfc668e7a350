import pytest

import castor_tool
from cluster import Cluster, running


@pytest.fixture
def cluster(tmp_path):
    with running(Cluster(tmp_path)) as c:
        yield c


@pytest.fixture
def castor_tmp(tmp_path):
    """A temp dir for ./tools/castor clusters; every node started under it is stopped after."""
    yield tmp_path
    castor_tool.stop_nodes_under(tmp_path)
