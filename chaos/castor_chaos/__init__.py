"""Castor's Jepsen-style chaos harness.

Modules, each usable on its own:
  history   operations recorded as invoke then ok / fail / info, JSONL in and out
  checker   linearizability (Wing-Gong/Lowe search) per key, plus set and counter checks
  synth     simulated register histories, with or without a planted anomaly
  topology  hosts made of network namespaces joined by a bridge in its own namespace
  nemesis   partitions, kill -9, pause, and seeded schedules that combine them
  report    the run folder: history, verdict, summary and latency plot
  netns     moving a thread into a namespace (the workload runs inside the client host)
  cluster   castord nodes on a topology, by pid; status and leader lookup; powered disks
  power_disk castor-powerfs mounts that forget what was not fsynced when the power is cut
  workload  worker threads and the Castor outcome -> history mapping
  workloads register, set, counter, promotion
  faults    faults aimed at a live cluster (the leader, snapshots, failpoints, lost replies,
            power cuts)
  runner    one run, the ci and long suites, the chaos/run command line
"""
