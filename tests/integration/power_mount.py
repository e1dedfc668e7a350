"""castor-powerfs (tests/powerfs) mounted for a test: a directory that forgets what was not
fsynced when its power is cut.

PowerMount(root) keeps the durable bytes in root/disk and mounts them at root/mnt. cut() drops
everything unsynced (from then on the mount answers EIO), power_on() unmounts and mounts again
over what survived. Mounts only under the test's own directory; unmount() always runs, by the
mount point and the PID it started, never by name.
"""
import os
import pathlib
import subprocess
import time

from cluster import BUILD


def mounted(path: pathlib.Path) -> bool:
    with open("/proc/mounts") as f:
        return any(line.split()[1] == str(path) for line in f)


class PowerMount:
    def __init__(self, root: pathlib.Path, seed: int = 1):
        self.disk, self.mnt, self.seed = root / "disk", root / "mnt", seed
        self.disk.mkdir(parents=True, exist_ok=True)
        self.mnt.mkdir(parents=True, exist_ok=True)
        self.proc = None

    def mount(self):
        self.proc = subprocess.Popen([str(BUILD / "tests" / "powerfs" / "castor-powerfs"), "--seed", str(self.seed),
                                      str(self.disk), str(self.mnt)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not mounted(self.mnt):
            if self.proc.poll() is not None:
                raise AssertionError(f"castor-powerfs exited: {self.proc.stderr.read().decode()}")
            assert time.monotonic() < deadline, "castor-powerfs did not mount within 10 s"
            time.sleep(0.02)
        return self

    def control(self, command: str):
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

    def cut(self, torn: bool = False):
        self.control("torn-cut" if torn else "power-cut")

    def unmount(self):
        if self.proc is None:
            return
        if mounted(self.mnt):
            subprocess.run(["fusermount3", "-u", str(self.mnt)], check=False, capture_output=True)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            if mounted(self.mnt):
                subprocess.run(["umount", "-l", str(self.mnt)], check=False)
        self.proc = None

    def power_on(self):
        self.unmount()
        return self.mount()


def fuse_available() -> bool:
    return os.path.exists("/dev/fuse") and os.geteuid() == 0
