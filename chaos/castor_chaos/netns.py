"""Moving the calling thread into a named network namespace.

Why a thread and not a process: the harness keeps one Python process, so the history, the
nemesis and the workers share memory and one clock, yet every client socket must live in the
client host's namespace (the host namespace cannot reach the sealed topology at all). Linux
keeps the network namespace per thread, and threads (and subprocesses) started by a thread
inherit its namespace, so one thread that enters the client namespace can run the whole
workload and everything it starts. Python 3.11 has no ``os.setns``, hence ctypes.
"""

from __future__ import annotations

import ctypes
import os
import threading
from typing import Callable

_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def enter(namespace: str) -> None:
    """Move the calling thread into ``namespace`` (a name under /var/run/netns)."""
    fd = os.open(f"/var/run/netns/{namespace}", os.O_RDONLY)
    try:
        if _libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into {namespace}: {os.strerror(err)}")
    finally:
        os.close(fd)


def call_in(namespace: str, fn: Callable, *args, **kwargs):
    """Run ``fn`` in a fresh thread inside ``namespace``; return its result or raise its error.

    The caller's own thread never changes namespace, so the host-side code around it (topology
    setup and teardown) is unaffected whatever ``fn`` does.
    """
    box: dict = {}

    def body() -> None:
        try:
            enter(namespace)
            box["result"] = fn(*args, **kwargs)
        except BaseException as e:  # handed to the caller, who decides
            box["error"] = e

    # A daemon, so that an interrupted run can still exit after the topology is torn down.
    thread = threading.Thread(target=body, name=f"in-{namespace}", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["result"]
