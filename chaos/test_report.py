"""The run folder: every file written, readable, and consistent with the inputs."""

import json

from castor_chaos import synth
from castor_chaos.checker import check_register
from castor_chaos.history import read_jsonl
from castor_chaos.nemesis import FaultInterval
from castor_chaos.report import percentile, write_run


def test_write_run_produces_every_file(tmp_path):
    events = synth.register_history(seed=9, ops=1_000, keys=20)
    planted, _ = synth.plant_stale_read(events, seed=9)
    verdict = check_register(planted)
    origin = planted[0].time_ns
    faults = [FaultInterval("partition-isolate", ("n2",), "partition-isolate (n2 alone)",
                            origin + 10_000_000, origin + 40_000_000),
              FaultInterval("kill", ("n1",), "kill n1", origin + 60_000_000, origin + 70_000_000)]
    path = write_run(planted, verdict, faults, seed=9, title="register", runs_dir=tmp_path)

    assert path.parent == tmp_path and path.name.endswith("-9")
    assert read_jsonl(path / "history.jsonl") == planted
    assert json.loads((path / "verdict.json").read_text())["valid"] is False
    assert [f["kind"] for f in json.loads((path / "faults.json").read_text())] == ["partition-isolate", "kill"]
    summary = (path / "summary.txt").read_text()
    assert "seed:     9" in summary and "valid = False" in summary
    assert "first anomaly: read of k=" in summary and "kill n1" in summary
    png = (path / "latency.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    again = write_run(planted, verdict, faults, seed=9, runs_dir=tmp_path)
    assert again != path, "a second run in the same second gets its own folder"


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 99.9)) == (50, 99, 100)
    assert percentile([7], 99.9) == 7
