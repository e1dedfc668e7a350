"""castor-bench smoke run (issue 6): five seconds of load that must all succeed. No timing is
asserted here; throughput and latency live in docs/PERFORMANCE.md."""
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
