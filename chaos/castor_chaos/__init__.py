"""Castor's Jepsen-style chaos harness.

Modules, each usable on its own:
  history   operations recorded as invoke then ok / fail / info, JSONL in and out
  checker   linearizability (Wing-Gong/Lowe search) per key, plus set and counter checks
  synth     simulated register histories, with or without a planted anomaly
  topology  hosts made of network namespaces joined by a bridge in its own namespace
  nemesis   partitions, kill -9, pause, and seeded schedules that combine them
  report    the run folder: history, verdict, summary and latency plot
"""
