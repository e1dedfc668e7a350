"""castor-powerfs (tests/powerfs) mounted for a test or a chaos run: a directory that forgets
what was not fsynced when its power is cut.

PowerDisk(root, powerfs) keeps the durable bytes in root/disk and mounts them at root/mnt.N.
cut() drops everything unsynced (from then on the mount answers EIO), power_on() unmounts and
mounts again over what survived. Mounts only under the caller's own directory; unmount() always
runs, by the mount point and the PID it started, never by name.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

MOUNT_WAIT_S = 10.0


def mounted(path: Path) -> bool:
    with open("/proc/mounts") as f:
        return any(line.split()[1] == str(path) for line in f)


def fuse_available() -> bool:
    """castor-powerfs needs root and /dev/fuse."""
    return os.path.exists("/dev/fuse") and os.geteuid() == 0


class PowerDisk:
    """One node's disk. Not thread-safe: one thread mounts, cuts and unmounts it."""

    def __init__(self, root: Path, powerfs: Path, seed: int = 1):
        self.root, self.disk, self.powerfs, self.seed = root, root / "disk", powerfs, seed
        self.disk.mkdir(parents=True, exist_ok=True)
        self.mnt: Path | None = None
        self.mounts, self.proc = 0, None

    def mount(self) -> "PowerDisk":
        # A fresh mount point each time: the fusermount3 helper of the last mount
        # (auto_unmount) unmounts its mount point when that daemon has gone, which could take
        # down a new mount made at the same place.
        # `mnt` names a mount point only once it is mounted: a node started on the bare directory
        # would begin afresh under its old identity.
        self.mounts += 1
        point = self.root / f"mnt.{self.mounts}"
        point.mkdir()
        self.mnt, self.proc = point, subprocess.Popen(
            [str(self.powerfs), "--seed", str(self.seed), str(self.disk), str(point)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + MOUNT_WAIT_S
        while not mounted(point):
            problem = (f"castor-powerfs exited: {self.proc.stderr.read().decode()}"
                       if self.proc.poll() is not None else
                       f"castor-powerfs did not mount within {MOUNT_WAIT_S:g} s"
                       if time.monotonic() > deadline else None)
            if problem is not None:
                self.unmount()
                self.mnt = None
                raise RuntimeError(problem)
            time.sleep(0.02)
        return self

    def control(self, command: str) -> None:
        with open(self.mnt / ".powerfs", "w") as f:
            f.write(command)

    def status(self) -> str:
        with open(self.mnt / ".powerfs") as f:
            return f.read()

    def fired(self, name: str) -> int:
        """How often `name` (power-cut, fsync, lost-files, ...) happened on this mount."""
        for field in self.status().split()[1:]:
            key, _, n = field.partition("=")
            if key == name:
                return int(n)
        return 0

    def cut(self, torn: bool = False) -> None:
        self.control("torn-cut" if torn else "power-cut")

    def unmount(self) -> None:
        if self.proc is None:
            return
        if mounted(self.mnt):
            subprocess.run(["fusermount3", "-u", str(self.mnt)], check=False, capture_output=True)
        try:
            self.proc.wait(timeout=MOUNT_WAIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            if mounted(self.mnt):
                subprocess.run(["umount", "-l", str(self.mnt)], check=False)
        self.proc = None

    def power_on(self) -> "PowerDisk":
        self.unmount()
        return self.mount()


class SharedRoot:
    """A directory bind-mounted on itself as a shared mount, to hold PowerDisks of processes in
    other mount namespaces.

    `ip netns exec` gives each process a mount namespace of its own, a copy of the host's taken
    when it starts. Under a private root that copy keeps every FUSE mount it saw, so the file
    system of a disk unmounted in the host lives on (its daemon never exits) while any node
    runs. Under a shared root the copies are slaves: an unmount in the host reaches them too.
    """

    def __init__(self, path: Path):
        self.path, self.is_mounted = path, False
        path.mkdir(parents=True, exist_ok=True)

    def mount(self) -> "SharedRoot":
        subprocess.run(["mount", "--bind", str(self.path), str(self.path)], check=True,
                       capture_output=True)
        self.is_mounted = True
        subprocess.run(["mount", "--make-shared", str(self.path)], check=True, capture_output=True)
        return self

    def unmount(self) -> None:
        if self.is_mounted:
            if subprocess.run(["umount", str(self.path)], capture_output=True).returncode != 0:
                # Busy (a disk below it was detached lazily): detach this one lazily too.
                subprocess.run(["umount", "-l", str(self.path)], check=False, capture_output=True)
            self.is_mounted = False
