import pytest

from cluster import Cluster


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    c.start_all()
    yield c
    c.stop_all()
