"""runs.py — the runs of a bench script's JSONL file, grouped by label kind
(the label without its "-ROUND" suffix), and their medians; imported by
scripts/bench-nodes.sh and scripts/bench-wtcount.sh."""
import collections
import json
import statistics


def groups(path):
    """{kind: [run, ...]} in file order."""
    g = collections.defaultdict(list)
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            g[r["label"].rsplit("-", 1)[0]].append(r)
    return g


def med(g, kind, f):
    """(median, min, max) of f over kind's runs; zeros when there are none."""
    v = [f(r) for r in g[kind]]
    return (statistics.median(v), min(v), max(v)) if v else (0, 0, 0)
