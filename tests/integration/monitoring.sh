#!/usr/bin/env bash
# monitoring.sh — what ships for Prometheus and Grafana, against the real
# daemon:
#   conf/prometheus/peertrack.rules.yml passes `promtool check rules`, and
#     its alerts fire (and stay quiet) as tests/monitoring/rules.test.yml
#     says (`promtool test rules`);
#   the daemon's /metrics passes `promtool check metrics`;
#   conf/grafana/peertrack.json parses, each of its queries is valid PromQL
#     (checked as recording rules by promtool, Grafana's variables filled in);
#   every series the dashboard and the rules name is in the daemon's /metrics
#     (a histogram by its _bucket/_sum/_count), with every label value they
#     match literally.
. "$(dirname "$0")/lib/deploy.sh"

command -v promtool >/dev/null || pt_fail "promtool missing (Debian package prometheus; scripts/install-deps.sh --test)"
command -v curl >/dev/null || pt_fail "curl missing"
RULES="$PT_ROOT/conf/prometheus/peertrack.rules.yml"
DASH="$PT_ROOT/conf/grafana/peertrack.json"

promtool check rules "$RULES" >"$WORK/check.out" 2>&1 || pt_fail "promtool check rules: $(cat "$WORK/check.out")"
promtool test rules "$PT_ROOT/tests/monitoring/rules.test.yml" >"$WORK/test.out" 2>&1 ||
	pt_fail "promtool test rules: $(cat "$WORK/test.out")"
pt_log "rules: $(grep -o '[0-9]* rules found' "$WORK/check.out"), unit tests pass"

# A daemon with some traffic, so that labelled series have their values.
pt_daemon d "[security]
allowed_origins = *"
pt_ws --origin http://a.example flow "ws://127.0.0.1:$port_d/v1" >/dev/null || pt_fail "client"
curl -sf "http://127.0.0.1:$port_d/metrics" >"$WORK/metrics.txt" || pt_fail "GET /metrics"
promtool check metrics <"$WORK/metrics.txt" >"$WORK/lint.out" 2>&1 || pt_fail "promtool check metrics: $(cat "$WORK/lint.out")"
pt_log "/metrics: $(grep -c '^# TYPE' "$WORK/metrics.txt") families, promtool check metrics clean"

# The dashboard's queries and the rules' expressions: PromQL syntax through
# promtool, then names and literal label values against /metrics.
python3 - "$DASH" "$RULES" "$WORK/metrics.txt" "$WORK/dash-rules.yml" <<'PY' >"$WORK/names.out" 2>&1 || pt_fail "$(cat "$WORK/names.out")"
import json, re, sys
dash_path, rules_path, metrics_path, out_path = sys.argv[1:]

dash = json.load(open(dash_path))
exprs = []
def walk(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if k in ("expr", "definition") and isinstance(v, str):
                exprs.append(("dashboard", v))
            else:
                walk(v)
    elif isinstance(o, list):
        for v in o:
            walk(v)
walk(dash)
panels = [p for p in dash["panels"] if p.get("type") != "row"]
if not panels or any(not p.get("targets") for p in panels):
    sys.exit("dashboard: a panel without queries")
# Rule expressions: the YAML is simple enough to read without a YAML
# library (PyYAML is not a test dependency): "expr:" then a folded block.
lines = open(rules_path).read().splitlines()
i = 0
while i < len(lines):
    m = re.match(r"^(\s*)expr:\s*(.*)$", lines[i])
    if m:
        text, ind = m.group(2), len(m.group(1))
        if text in (">", "|", ">-", "|-"):
            text = ""
            while i + 1 < len(lines) and (not lines[i + 1].strip() or len(lines[i + 1]) - len(lines[i + 1].lstrip()) > ind):
                i += 1
                text += " " + lines[i].strip()
        exprs.append(("rules", text.strip()))
    i += 1

# Grafana's variables, filled in; label_values() is Grafana's, not PromQL.
def promql(e):
    e = e.replace("$__rate_interval", "5m").replace("$__interval", "1m")
    e = e.replace("$job", "peertrack").replace("$instance", ".*")
    m = re.match(r"^label_values\((.*),\s*\w+\)$", e)
    return m.group(1) if m else e
with open(out_path, "w") as f:
    f.write("groups:\n  - name: dashboard\n    rules:\n")
    for n, (src, e) in enumerate(exprs):
        if src == "dashboard":
            f.write("      - record: dashboard:query:%d\n        expr: %s\n" % (n, json.dumps(promql(e))))

# A name must be a series the daemon exposes: for a histogram that is
# NAME_bucket, NAME_sum or NAME_count, never NAME alone.
samples = [l for l in open(metrics_path) if l.strip() and not l.startswith("#")]
series = {re.match(r"^[a-zA-Z_:][a-zA-Z0-9_:]*", l).group(0) for l in samples}
def exists(name):
    return name in series

bad = []
names = set()
for src, e in exprs:
    for m in re.finditer(r"\b((?:peertrack|process)_[a-zA-Z0-9_]+)(\{[^}]*\})?", e):
        name, sel = m.group(1), m.group(2) or ""
        names.add(name)
        if not exists(name):
            bad.append("%s: %s is not in /metrics" % (src, name))
            continue
        for lm in re.finditer(r'(\w+)\s*=\s*"([^"$]*)"', sel):
            label, value = lm.group(1), lm.group(2)
            if label in ("job", "instance"):
                continue
            pat = re.compile(r"^%s\{[^}]*\b%s=\"%s\"" % (re.escape(name), label, re.escape(value)))
            if not any(pat.match(s) for s in samples):
                bad.append('%s: %s{%s="%s"} is not in /metrics' % (src, name, label, value))
if bad:
    sys.exit("\n".join(sorted(set(bad))))
print("%d queries, %d metric names, all in /metrics" % (len(exprs), len(names)))
PY
promtool check rules "$WORK/dash-rules.yml" >"$WORK/dash-check.out" 2>&1 ||
	pt_fail "dashboard queries are not valid PromQL: $(cat "$WORK/dash-check.out")"
pt_log "dashboard and rules: $(cat "$WORK/names.out"); dashboard queries valid PromQL"
pt_log "ok"
