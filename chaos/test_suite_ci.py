"""The CI chaos suite against real castord: every workload under a mix of faults, no anomaly.

One test per run of ``runner.CI_SUITE``, so a failure names its workload and prints the run
folder and the command that replays it. A run passes only if it did the work its verdict rests
on (runner.judge, tested in test_verdict.py): at least 100 acknowledged writes, a final read of
every key, and at least one fault of each family it names that did what it is for (so the
promotion run forced an InstallSnapshot and saw it installed). Seeds are fresh on every run (CI
keeps finding new schedules); set CHAOS_SEED to repeat a suite. Needs root and a built castord;
otherwise skipped with the reason (failed with CASTOR_REQUIRE_CHAOS=1). About three and a half
minutes in all (runs are sequential: one cluster at a time).
"""

import os
import random

import pytest

from castor_chaos.runner import CI_SUITE, ci_specs, run

pytestmark = pytest.mark.needs_cluster

SEED = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(1, 2**31))


@pytest.mark.parametrize("index", range(len(CI_SUITE)),
                         ids=[f"{w}-{'+'.join(n)}" for w, n, _ in CI_SUITE])
def test_ci_run_has_no_anomaly(index):
    spec = ci_specs(SEED)[index]
    result = run(spec)
    assert result.passed, (f"{result.status}: {result.reason}\n  work: {result.verdict['work']}"
                           f"\n  folder: {result.folder}\n  replay: {spec.replay()}")
