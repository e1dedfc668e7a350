"""castor-powerfs (tests/powerfs) mounted for a test: a directory that forgets what was not
fsynced when its power is cut.

PowerMount(root) keeps the durable bytes in root/disk and mounts them at root/mnt.N. cut() drops
everything unsynced (from then on the mount answers EIO), power_on() unmounts and mounts again
over what survived. PoweredCluster runs each node of a Cluster on a PowerMount of its own.
Mounts only under the test's own directory; unmount() always runs, by the mount point and the
PID it started, never by name.
"""
import os
import pathlib
import signal
import subprocess
import threading
import time

from cluster import BUILD, Cluster


def mounted(path: pathlib.Path) -> bool:
    with open("/proc/mounts") as f:
        return any(line.split()[1] == str(path) for line in f)


class PowerMount:
    def __init__(self, root: pathlib.Path, seed: int = 1):
        self.root, self.disk, self.seed = root, root / "disk", seed
        self.disk.mkdir(parents=True, exist_ok=True)
        self.mnt, self.mounts, self.proc = None, 0, None

    def mount(self):
        # A fresh mount point each time: the fusermount3 helper of the last mount
        # (auto_unmount) unmounts its mount point when that daemon has gone, which could take
        # down a new mount made at the same place.
        self.mounts += 1
        self.mnt = self.root / f"mnt.{self.mounts}"
        self.mnt.mkdir()
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


class PoweredCluster(Cluster):
    """A Cluster whose node n keeps its data on a PowerMount of its own, under tmp/power/n."""

    def __init__(self, tmp, extra_args=(), nodes=3):
        super().__init__(tmp, nodes=nodes, extra_args=extra_args)
        self.disks = {n: PowerMount(tmp / "power" / n, seed=i + 1) for i, n in enumerate(self.names)}

    def args(self, name, cluster_id="castor"):
        a = super().args(name, cluster_id)
        a[a.index("--data-dir") + 1] = str(self.disks[name].mnt)
        return a

    def power_off(self, cut: bool):
        """Every node stops at once: its disk loses what was not fsynced (cut) or keeps the page
        cache (a kill -9 alone)."""
        if cut:
            for disk in self.disks.values():
                disk.cut()
        for n in list(self.procs):
            self.kill(n, signal.SIGKILL)

    def power_on(self):
        for disk in self.disks.values():
            disk.power_on()
        for n in self.names:
            self.start(n)

    def start_powered(self):
        """Mounts every disk, then starts the nodes on them."""
        for disk in self.disks.values():
            disk.mount()
        self.start_all()
        return self

    def stop_powered(self):
        """Stops the nodes, then unmounts their disks."""
        self.stop_all()
        for disk in self.disks.values():
            disk.unmount()


class Writer:
    """Puts distinct keys (prefix + number, the key as its value) from a thread until stop();
    `acked` holds those the cluster acknowledged."""

    def __init__(self, cluster, prefix: bytes, timeout: float = 2.0):
        self.acked, self._stop = {}, threading.Event()
        self._thread = threading.Thread(target=self._run, args=(cluster, prefix, timeout), daemon=True)
        self._thread.start()

    def _run(self, cluster, prefix, timeout):
        c = cluster.client(timeout=timeout)
        i = 0
        while not self._stop.is_set():
            key = prefix + b"%05d" % i
            if c.put(key, key).ok:
                self.acked[key] = key
            i += 1
        c.close()

    def stop(self):
        self._stop.set()
        self._thread.join(10)
        return self.acked
