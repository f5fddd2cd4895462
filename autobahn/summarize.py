"""Summarises an Autobahn report and checks it against autobahn/expected-results.json.

    python summarize.py ROLE REPORT_DIR [--write-expected]

ROLE is `server` or `client`; REPORT_DIR holds wstest's index.json. Prints a table of
counts by case group, every case that is not OK with its description, and every case whose
result differs from the expected one (or is missing). Exits 1 on any difference, 2 when
the report itself is unusable. Runs on Python 2.7 (wstest's venv) and on Python 3.
"""
from __future__ import print_function

import collections
import io
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED = os.path.join(HERE, "expected-results.json")
CASE_COUNT = 517
COLUMNS = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]


def case_key(case_id):
    return [int(part) for part in case_id.split(".")]


def outcome(result):
    """One word per case: the worse of `behavior` and `behaviorClose`."""
    order = ["OK", "INFORMATIONAL", "NON-STRICT", "UNIMPLEMENTED", "WRONG CODE", "UNCLEAN",
             "FAILED BY CLIENT", "FAILED"]
    words = [result.get("behavior", "FAILED"), result.get("behaviorClose", "FAILED")]
    rank = lambda w: order.index(w) if w in order else len(order)
    return max(words, key=rank)


def column(word):
    return word if word in COLUMNS else "FAILED"


def load_results(report_dir):
    path = os.path.join(report_dir, "index.json")
    if not os.path.exists(path):
        print("no report at %s: wstest did not run or wrote nothing" % path)
        sys.exit(2)
    with io.open(path, encoding="utf-8") as f:
        agents = json.load(f)
    if len(agents) != 1:
        print("%s lists %d agents, expected 1 (the testee never connected?)" % (path, len(agents)))
        sys.exit(2)
    return list(agents.values())[0]


def description(report_dir, result):
    name = result.get("reportfile")
    if not name:
        return ""
    try:
        with io.open(os.path.join(report_dir, name), encoding="utf-8") as f:
            text = json.load(f).get("description", "")
    except (IOError, ValueError):
        return ""
    text = " ".join(text.replace("<br>", " ").split())
    return text if len(text) <= 110 else text[:107] + "..."


def print_table(role, results):
    groups = collections.OrderedDict()
    for case_id in sorted(results, key=case_key):
        group = case_id.split(".")[0]
        groups.setdefault(group, collections.Counter())[column(outcome(results[case_id]))] += 1
    total = collections.Counter()
    print("Autobahn %s role: %d cases" % (role, len(results)))
    print("| group | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for group, counts in groups.items():
        total.update(counts)
        print("| %s | " % group + " | ".join(str(counts[c]) for c in COLUMNS) + " |")
    print("| all | " + " | ".join(str(total[c]) for c in COLUMNS) + " |")


def print_not_ok(report_dir, results):
    cases = [c for c in sorted(results, key=case_key) if outcome(results[c]) != "OK"]
    if cases:
        print("Cases not OK:")
    for case_id in cases:
        result = results[case_id]
        print("  %-8s %-13s (close: %s, %s ms) %s" % (
            case_id, result.get("behavior"), result.get("behaviorClose"),
            result.get("duration"), description(report_dir, result)))


def load_expected():
    if not os.path.exists(EXPECTED):
        return collections.OrderedDict()
    with io.open(EXPECTED, encoding="utf-8") as f:
        return json.load(f, object_pairs_hook=collections.OrderedDict)


def compare(role, results):
    expected = load_expected().get(role)
    if expected is None:
        return ["  %s has no %s role results: run with UPDATE_EXPECTED=1 to record them"
                % (EXPECTED, role)]
    problems = []
    for case_id in sorted(set(expected) | set(results), key=case_key):
        want = expected.get(case_id)
        got = outcome(results[case_id]) if case_id in results else None
        if want != got:
            problems.append("  %-8s expected %s, got %s" % (case_id, want, got or "nothing (did not run)"))
    return problems


def write_expected(role, results):
    data = load_expected()
    data[role] = collections.OrderedDict(
        (c, outcome(results[c])) for c in sorted(results, key=case_key))
    with open(EXPECTED, "w") as f:
        f.write(json.dumps(data, indent=1, separators=(",", ": ")) + "\n")
    print("wrote the %s role's %d results to %s" % (role, len(results), EXPECTED))


def main(argv):
    if len(argv) < 3 or argv[1] not in ("server", "client"):
        print(__doc__)
        return 2
    role, report_dir = argv[1], argv[2]
    results = load_results(report_dir)
    print_table(role, results)
    print_not_ok(report_dir, results)
    if "--write-expected" in argv:
        write_expected(role, results)
        return 0
    problems = compare(role, results)
    if len(results) != CASE_COUNT:
        problems.insert(0, "  %d cases ran, the testsuite has %d" % (len(results), CASE_COUNT))
    if problems:
        print("Differences from autobahn/expected-results.json (%s role):" % role)
        print("\n".join(problems))
        return 1
    counts = collections.Counter(outcome(r) for r in results.values())
    print("summary: Autobahn %s role on %s: all %d cases as expected (%s)" % (
        role, os.environ.get("RUNTIME", "mio"), len(results), ", ".join("%d %s" % (counts[w], w) for w in sorted(counts))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
