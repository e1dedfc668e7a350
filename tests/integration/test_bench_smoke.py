"""castor-bench smoke runs (issues 6 and 17): load that must all succeed, and a watch run in which
every watcher must see every measured put. No timing is asserted here; throughput and latency
live in docs/PERFORMANCE.md."""
import json
import subprocess

from cluster import BUILD


def test_castor_bench_five_seconds_every_operation_succeeds(cluster):
    out = subprocess.run([str(BUILD / "tools" / "castor-bench"), "--endpoints", ",".join(cluster.endpoints),
                          "--op", "cas", "--clients", "32", "--keys", "100", "--duration", "5", "--warmup", "0.5"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr + out.stdout
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["errors"] == 0
    assert result["ops"] > 0
    assert result["successes"] + result["conflicts"] == result["ops"]


def test_castor_bench_watch_every_watcher_sees_every_measured_put(cluster):
    pids = ",".join(str(p.pid) for p in cluster.procs.values())
    out = subprocess.run([str(BUILD / "tools" / "castor-bench"), "--endpoints", ",".join(cluster.endpoints),
                          "--op", "watch", "--watchers", "20", "--rate", "50", "--duration", "2", "--warmup", "0.5",
                          "--cpu-pids", pids],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr + out.stdout
    result = json.loads(out.stdout.strip().splitlines()[-1])
    # A run that did no work must not pass: puts were measured and each reached all 20 watchers.
    assert result["puts"] > 0
    assert result["expected_events"] == result["puts"] * 20
    assert result["events"] == result["expected_events"]
    assert result["missed_events"] == 0
    assert result["errors"] == 0
    assert result["rss_bytes_watching"] > 0 and result["server_cpu_seconds"] > 0
