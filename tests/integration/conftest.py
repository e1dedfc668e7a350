import pytest

import castor_tool
from cluster import Cluster


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    c.start_all()
    yield c
    c.stop_all()


@pytest.fixture
def castor_tmp(tmp_path):
    """A temp dir for ./tools/castor clusters; every node started under it is stopped after."""
    yield tmp_path
    castor_tool.stop_nodes_under(tmp_path)
