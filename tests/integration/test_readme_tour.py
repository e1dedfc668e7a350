"""The README's "A 60-second tour", walked line by line exactly as README.md writes it.

The tour is parsed out of README.md, so the README and this test cannot drift apart: a line
added, dropped or reordered there fails here until STEPS says what it must do. Each line runs
with bash from the repo root, as a user would paste it; the only substitution is
<mod_revision>, by the value the line before it printed. Assignments (C=...) carry over to
later lines, as in the user's shell. BUILD_DIR and CASTOR_DIR point at the tests' build and a
temp dir, so the developer's ./.castor is never touched.
"""
import re

import castor_tool
from cluster import ROOT

# (how the README line starts, its exit code, a pattern its stdout must contain), in tour order.
STEPS = [
    ("./tools/castor up", 0, r"Castor is up: 3 nodes on loopback, leader n\d"),
    ("C=", 0, r"^$"),
    ("$C put models/fraud/serving v1", 0, r"^OK$"),
    ("$C put models/fraud/schema s1", 0, r"^OK$"),
    ("$C get models/fraud/serving -w json", 0, r'"value":"v1".*"mod_revision":\d+'),
    ("$C cas models/fraud/serving v2 --expect-value v1", 0, r"^OK$"),
    ("$C cas models/fraud/serving v3 --expect-value v1", 1, r"^COMPARE FAILED\nmodels/fraud/serving\nv2$"),
    ("printf 'compare value models/fraud/serving = v2", 0, r"^SUCCESS\nOK$"),
    ("$C range models/ -w table", 0, r"models/fraud/schema .*s2(.|\n)*models/fraud/serving .*v2"),
    ("timeout --preserve-status 2 $C watch", 0, r"^PUT\nmodels/fraud/serving\nv1\nPUT\nmodels/fraud/schema\ns1\n"
                                                 r"PUT\nmodels/fraud/serving\nv2\nPUT\nmodels/fraud/schema\ns2$"),
    ("./tools/castor status", 0, r"(^\| n\d .*\| (leader|follower) .*\| healthy \|\n){3}"),
    ("curl -s 127.0.0.1:2381/v1/kv/models/fraud/serving", 0, r'"value":"v2".*"mod_revision":\d+'),
    ("curl -sL -X PUT --data-binary v4", 0, r'^\{"header":\{[^}]*\},"revision":\d+\}$'),  # not a 409
    ("curl -s 127.0.0.1:2381/health;", 0, r'"healthy":true(.|\n)*\ncastor_term '),
    ("./tools/castor kill n2", 0, r"killed n2"),
    ("$C put models/fraud/serving v3", 0, r"^OK$"),
    ("./tools/castor restart n2", 0, r"started n2"),
    ("./tools/castor demo", 0, r"promotions: 200 (.|\n)*mixed pairs: 0\n(.|\n)*every observed \(serving, schema\) "
                               r"pair was consistent\nevery replica followed every promotion once, in order, "
                               r"by watching"),
    ("./tools/castor down", 0, r"stopped 3 node\(s\)"),
]


def tour_lines():
    """The indented block under "## A 60-second tour" in README.md, one command a line."""
    section = (ROOT / "README.md").read_text().split("## A 60-second tour\n", 1)[1]
    lines = []
    for line in section.splitlines():
        if line.startswith("    "):
            lines.append(line[4:])
        elif lines:
            break
    return lines


def test_readme_tour_runs_as_written(castor_tmp):
    lines = tour_lines()
    matches = len(lines) == len(STEPS) and all(l.startswith(s[0]) for l, s in zip(lines, STEPS))
    assert matches, "README's tour changed; update STEPS to match it:\n" + "\n".join(lines)
    castor_tool.require_default_ports()
    castor_dir = castor_tmp / "castor"
    assignments, previous_output = "", ""
    for line, (_, want_code, want_output) in zip(lines, STEPS):
        if "<mod_revision>" in line:
            revision = re.search(r'"mod_revision":(\d+)', previous_output)
            assert revision, f"no mod_revision in what the line before printed:\n{previous_output}"
            line = line.replace("<mod_revision>", revision[1])
        r = castor_tool.run(assignments + line, castor_dir)
        shown = f"$ {line}\nexit {r.returncode}\n--- stdout\n{r.stdout}--- stderr\n{r.stderr}"
        assert r.returncode == want_code, shown
        assert re.search(want_output, r.stdout.strip(), re.MULTILINE), shown
        if re.fullmatch(r"[A-Za-z_]\w*=\S+", line):
            assignments += line + "\n"
        previous_output = r.stdout
    assert not list(castor_dir.glob("n*.pid")), "down left pid files behind"
