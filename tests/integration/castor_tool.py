"""Runs ./tools/castor as a user would, from the repo root, against the tests' build and a
temporary cluster directory; and stops, by PID, every node such a run left behind.

tools/castor puts node nI on the fixed ports I2379, I2380 and I2381 (2379.. for n1), so these
tests need those ports free: they fail, never skip, when something else holds one.
"""
import os
import signal
import socket
import subprocess
import time

import pytest

from cluster import BUILD, ROOT

DEFAULT_PORTS = [int(f"{i if i > 1 else ''}{p}") for i in (1, 2, 3) for p in (2379, 2380, 2381)]


def require_default_ports():
    busy = [p for p in DEFAULT_PORTS if not _can_listen(p)]
    if busy:
        pytest.fail(f"127.0.0.1 ports {busy} are in use, and ./tools/castor needs them: stop whatever "
                    "holds them (another castor cluster? ./tools/castor down) and run again")


def _can_listen(port):
    with socket.socket() as s:
        # As castord binds: a socket left in TIME_WAIT by an earlier run does not count as busy.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def env(castor_dir):
    """The environment of a run: the tests' build, and castor_dir as the default --dir."""
    return dict(os.environ, BUILD_DIR=str(BUILD.resolve()), CASTOR_DIR=str(castor_dir))


def run(command, castor_dir, timeout_s=300):
    """Runs `command` (a line of bash, or tools/castor's argument list) from the repo root."""
    argv = ["bash", "-c", command] if isinstance(command, str) else [str(ROOT / "tools" / "castor"), *command]
    return subprocess.run(argv, cwd=ROOT, env=env(castor_dir), capture_output=True, text=True, timeout=timeout_s)


def stop_nodes_under(top):
    """SIGKILLs every castord whose pid file and data lie under `top`, and waits until it is gone.

    The data-dir check keeps a recycled PID from ever being someone else's process.
    """
    pids = []
    for pid_file in top.rglob("n*.pid"):
        pid = int(pid_file.read_text().strip() or 0)
        if pid and _is_castord_under(pid, top):
            os.kill(pid, signal.SIGKILL)
            pids.append(pid)
    deadline = time.monotonic() + 10
    while any(running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)


def _is_castord_under(pid, top):
    try:
        argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
    except OSError:
        return False
    return argv[0].endswith(b"/castord") and any(a.startswith(bytes(top)) for a in argv)


def running(pid):
    """True while `pid` exists and is not a zombie (its new parent, init, reaps it)."""
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
