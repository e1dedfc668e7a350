"""The run folder: everything needed to understand, and replay, one chaos run.

``chaos/runs/<time>-<seed>/`` holds:
  history.jsonl  every event (history.py's format)
  verdict.json   the checker's verdict
  faults.json    the faults as they happened, on the history's clock
  summary.txt    seed, verdict, counts, latency percentiles, faults, the first anomaly
  latency.png    latency of every operation over time, by outcome, with faults shaded
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Iterable

import matplotlib

matplotlib.use("Agg")  # Files only: CI machines have no display.
import matplotlib.pyplot as plt  # noqa: E402  (must follow the backend choice)
from matplotlib.patches import Patch  # noqa: E402

from .history import FAIL, INFO, OK, Event, operations, write_jsonl  # noqa: E402
from .nemesis import FaultInterval  # noqa: E402

RUNS_DIR = Path(__file__).resolve().parent.parent / "runs"

_OUTCOME_COLORS = {OK: "#2a9d55", FAIL: "#d62828", INFO: "#f0a202"}
_F_MARKERS = {"read": "o", "write": "^", "cas": "s"}
# By the fault kind's first word (faults.py): partition-*, kill-*, pause-*, snapshot-isolate,
# failpoint-*, lost-replies.
_FAULT_COLORS = {"partition": "#4c78a8", "kill": "#7f3c8d", "pause": "#e45756",
                 "snapshot": "#17becf", "failpoint": "#9c755f", "lost": "#808080",
                 "power": "#f58518"}


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


def run_dir(seed: int, runs_dir: Path = RUNS_DIR) -> Path:
    """A new folder named after the wall-clock start and the seed (suffixed if taken)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    runs_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(100):
        path = runs_dir / (f"{stamp}-{seed}" + (f"-{attempt}" if attempt else ""))
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free run folder for {stamp}-{seed} in {runs_dir}")


def write_run(events: list[Event], verdict: dict, faults: Iterable[FaultInterval], seed: int,
              title: str = "", runs_dir: Path = RUNS_DIR, path: Path | None = None) -> Path:
    """Write the whole run folder and return its path.

    ``path``: a folder made earlier by ``run_dir``, for runs that keep node logs in it while
    they run; by default a new one is made in ``runs_dir``.
    """
    faults = list(faults)
    path = path or run_dir(seed, runs_dir)
    write_jsonl(path / "history.jsonl", events)
    (path / "verdict.json").write_text(json.dumps(verdict, indent=2, default=str) + "\n")
    (path / "faults.json").write_text(json.dumps([f.to_json() for f in faults], indent=2) + "\n")
    (path / "summary.txt").write_text(summary(events, verdict, faults, seed, title))
    plot_latency(events, faults, path / "latency.png", f"{title}  seed {seed}".strip(), verdict)
    return path


def summary(events: list[Event], verdict: dict, faults: list[FaultInterval], seed: int,
            title: str = "") -> str:
    ops = operations(events)
    origin = min((op.call_ns for op in ops), default=0)
    counts = {t: sum(1 for op in ops if op.type == t) for t in (OK, FAIL, INFO)}
    lines = [f"{title or 'chaos run'}", f"seed:     {seed}",
             f"verdict:  valid = {verdict.get('valid')}  ({verdict.get('checker', '?')})",
             f"ops:      {len(ops)}  ok {counts[OK]}  fail {counts[FAIL]}  info {counts[INFO]}"]
    latencies = sorted(op.latency_ns() / 1e6 for op in ops if op.type == OK)
    if latencies:
        lines.append("ok latency ms: " + "  ".join(
            f"p{p:g} {percentile(latencies, p):.2f}" for p in (50, 99, 99.9))
            + f"  max {latencies[-1]:.2f}")
    lines.append(f"faults:   {len(faults)}")
    lines += [f"  {(f.start_ns - origin) / 1e9:8.2f}-{(f.end_ns - origin) / 1e9:8.2f} s  "
              f"{f.description}" for f in faults]
    anomaly = verdict.get("anomaly")
    if anomaly:
        lines.append(f"first anomaly: {anomaly.get('message')}")
        if anomaly.get("op"):
            lines.append(f"  operation: {anomaly['op']}")
    elif verdict.get("valid") is not True:
        lines.append(f"undecided: {verdict.get('reason') or 'see verdict.json'}")
    return "\n".join(lines) + "\n"


def _marker(f: str) -> str:
    return _F_MARKERS.get(f, "D")


def _fault_color(kind: str) -> str:
    return _FAULT_COLORS[kind.split("-")[0]]


def plot_latency(events: list[Event], faults: list[FaultInterval], path: Path, title: str,
                 verdict: dict | None = None) -> None:
    """Latency (log scale) against invocation time; colour = outcome, marker = operation.

    An info without a completion (the run ended first) has no latency and is counted in the
    legend instead. Faults are shaded and named along the top, above the points, so a latency
    cliff or a run of infos can be matched to its cause at a glance; the first anomaly, if the
    verdict has one, is a dashed line at the moment its operation completed.
    """
    ops = operations(events)
    origin = min((op.call_ns for op in ops), default=0)
    fig, ax = plt.subplots(figsize=(13, 5.5), dpi=110)
    for fault in faults:
        x0, x1 = (fault.start_ns - origin) / 1e9, (fault.end_ns - origin) / 1e9
        ax.axvspan(x0, x1, color=_fault_color(fault.kind), alpha=0.13, lw=0)
        ax.text((x0 + x1) / 2, 0.985, f"{fault.kind}\n{','.join(fault.targets)}",
                transform=ax.get_xaxis_transform(), ha="center", va="top", fontsize=7,
                color=_fault_color(fault.kind))
    unfinished = sum(1 for op in ops if op.complete_ns is None)
    kinds = sorted({op.f for op in ops}, key=lambda f: (f not in _F_MARKERS, f))
    for outcome in (OK, INFO, FAIL):
        for f in kinds:
            done = [op for op in ops
                    if op.type == outcome and op.f == f and op.complete_ns is not None]
            if done:
                ax.scatter([(op.call_ns - origin) / 1e9 for op in done],
                           [op.latency_ns() / 1e6 for op in done], marker=_marker(f),
                           s=7 if outcome == OK else 14, linewidths=0,
                           color=_OUTCOME_COLORS[outcome], alpha=0.55 if outcome == OK else 0.9)
    ax.set_yscale("log")
    low, high = ax.get_ylim()
    ax.set_ylim(low, high * 8)  # Room above the points for the fault labels.
    anomaly = (verdict or {}).get("anomaly") or {}
    if anomaly.get("at_ns") is not None:
        ax.axvline((anomaly["at_ns"] - origin) / 1e9, color="black", ls="--", lw=1)
    ax.set_xlabel("time since first invocation (s)")
    ax.set_ylabel("latency (ms, log)")
    outcome = "" if verdict is None else f"   valid: {verdict.get('valid')}"
    ax.set_title(f"{title}{outcome}", loc="left", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    handles = [Patch(color=_OUTCOME_COLORS[t], label=label) for t, label in
               ((OK, "ok"), (INFO, "info (unknown)"), (FAIL, "fail"))]
    handles += [plt.Line2D([], [], marker=_marker(f), ls="", color="#555", label=f)
                for f in kinds]
    handles += [Patch(color=c, alpha=0.3, label=f"{k} fault") for k, c in _FAULT_COLORS.items()
                if any(f.kind.startswith(k) for f in faults)]
    if anomaly.get("at_ns") is not None:
        handles.append(plt.Line2D([], [], color="black", ls="--", lw=1, label="first anomaly"))
    if unfinished:
        handles.append(Patch(color="none", label=f"{unfinished} never completed (not shown)"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.005, 1), fontsize=8,
              frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
