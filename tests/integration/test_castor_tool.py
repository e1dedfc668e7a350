"""./tools/castor's arguments: every verb acts on the cluster its --dir names, and an argument
it does not know is refused with usage (exit 2), never ignored."""
import signal
import subprocess

import pytest

import castor_tool

REFUSED = [
    [], ["frobnicate"], ["--dir", "x", "down"], ["down", "--force"], ["down", "extra"],
    ["status", "--nodes", "5"], ["up", "--dir"], ["up", "--nodes", "4"], ["kill"], ["kill", "n1", "n2"],
    ["restart", "n1", "--hard"], ["logs"], ["demo", "--promotions", "5"], ["kill", "n4"], ["restart", "x1"],
]


@pytest.mark.parametrize("args", REFUSED, ids=" ".join)
def test_unknown_or_misplaced_arguments_are_usage_errors(tmp_path, args):
    (tmp_path / "nodes").write_text("3\n")  # a 3-node cluster's dir, so only the arguments are wrong
    r = castor_tool.run(args, tmp_path)
    assert r.returncode == 2, r
    assert "./tools/castor up [--nodes 3|5] [--dir DIR]" in r.stderr, r.stderr


@pytest.mark.parametrize("args", [["--help"], ["down", "--help"], ["kill", "n1", "-h"]], ids=" ".join)
def test_help_prints_usage(tmp_path, args):
    r = castor_tool.run(args, tmp_path)
    assert r.returncode == 0 and "./tools/castor down [--dir DIR]" in r.stdout, r


@pytest.mark.parametrize("verb", [["status"], ["check"], ["kill", "n1"], ["restart", "n1"], ["demo"], ["logs", "n1"]])
def test_every_verb_reads_dir_before_castor_dir(tmp_path, verb):
    """CASTOR_DIR names a cluster, --dir an empty directory: the verb must look in the latter."""
    (tmp_path / "default").mkdir()
    (tmp_path / "default" / "nodes").write_text("3\n")
    empty = tmp_path / "empty"
    r = castor_tool.run([*verb, "--dir", str(empty)], tmp_path / "default", timeout_s=30)
    assert r.returncode == 1 and f"no cluster in {empty}" in r.stderr, r


def test_down_dir_stops_exactly_that_cluster(castor_tmp):
    castor_tool.require_default_ports()
    real, fake, default = castor_tmp / "real", castor_tmp / "fake", castor_tmp / "default"
    # The default dir ($CASTOR_DIR) holds nothing: a verb that ignored --dir would show it.
    assert castor_tool.run(["up", "--dir", str(real)], default).returncode == 0
    sleepers = fake_cluster(fake)
    try:
        r = castor_tool.run(["down"], default)
        assert r.returncode == 0 and f"no cluster in {default}" in r.stdout, r
        assert castor_tool.run(["status", "--dir", str(real)], default).returncode == 0

        r = castor_tool.run(["kill", "n2", "--dir", str(real)], default)
        assert r.returncode == 0 and "killed n2" in r.stdout, r
        assert castor_tool.run(["check", "--dir", str(real)], default).returncode != 0
        assert castor_tool.run(["restart", "--dir", str(real), "n2"], default).returncode == 0
        real_pids = [int((real / f"n{i}.pid").read_text()) for i in (1, 2, 3)]

        r = castor_tool.run(["down", "--dir", str(fake)], default)
        assert r.returncode == 0 and f"stopped 3 node(s) in {fake}" in r.stdout, r
        assert [p.wait(timeout=10) for p in sleepers] == [-signal.SIGTERM] * 3
        assert all(castor_tool.running(pid) for pid in real_pids), "down --dir FAKE stopped the real cluster"

        r = castor_tool.run(["down", "--dir", str(real)], default)
        assert r.returncode == 0 and f"stopped 3 node(s) in {real}" in r.stdout, r
        assert not any(castor_tool.running(pid) for pid in real_pids)
    finally:
        for p in sleepers:
            p.kill()
            p.wait()


def fake_cluster(d):
    """A dir as ./tools/castor up leaves it, whose 'nodes' are sleep processes of our own."""
    d.mkdir()
    (d / "nodes").write_text("3\n")
    sleepers = [subprocess.Popen(["sleep", "600"]) for _ in range(3)]
    for i, p in enumerate(sleepers, 1):
        (d / f"n{i}.pid").write_text(f"{p.pid}\n")
    return sleepers
