"""The integration tests' side of castor-powerfs (castor_chaos.power_disk): PoweredCluster runs
each node of a Cluster on a disk of its own that forgets what was not fsynced when its power is
cut; Writer keeps writing meanwhile.
"""
import signal
import threading

from castor_chaos.power_disk import PowerDisk, fuse_available  # noqa: F401  (tests import it here)
from cluster import BUILD, Cluster

POWERFS = BUILD / "tests" / "powerfs" / "castor-powerfs"


class PoweredCluster(Cluster):
    """A Cluster whose node n keeps its data on a PowerDisk of its own, under tmp/power/n."""

    def __init__(self, tmp, extra_args=(), nodes=3):
        super().__init__(tmp, nodes=nodes, extra_args=extra_args)
        self.disks = {n: PowerDisk(tmp / "power" / n, POWERFS, seed=i + 1) for i, n in enumerate(self.names)}

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

    def __init__(self, cluster, prefix: bytes, timeout_s: float = 2.0):
        self.acked, self._stop = {}, threading.Event()
        self._thread = threading.Thread(target=self._run, args=(cluster, prefix, timeout_s), daemon=True)
        self._thread.start()

    def _run(self, cluster, prefix, timeout_s):
        c = cluster.client(timeout_s=timeout_s)
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
