#!/usr/bin/env bash
# ctl_manifest.sh — `peertrackctl manifest DIR`: every regular file under DIR
# with the SHA-256 and size sha256sum and stat give (files of 0 bytes, 64 KiB
# +/- 1, 1 MiB + 3 and a random name set, in nested folders), URLs percent-
# encoded, --prefix as a path and as an absolute URL, dot-names skipped,
# symbolic links not followed, -o inside DIR left out and written atomically,
# the same tree giving the same bytes, errors with their exit status; and the
# browser client's parser (clients/js/src/manifest.js) accepting the output.
. "$(dirname "$0")/lib/deploy.sh"
CTL="$PT_BIN/peertrackctl"
command -v python3 >/dev/null || pt_fail "python3 missing"
command -v node >/dev/null || pt_fail "node missing (Debian package nodejs)"

site="$WORK/site"
mkdir -p "$site/img/deep/er" "$site/.git" "$site/.hidden" "$site/sp ace"
: >"$site/empty.txt"
head -c 65535 /dev/urandom >"$site/img/a.png"
head -c 65537 /dev/urandom >"$site/img/deep/er/b.webm"
head -c $((1048576 + 3)) /dev/urandom >"$site/big.bin"
echo "<p>hi</p>" >"$site/index.html"
echo x >"$site/sp ace/é+%.css"
echo secret >"$site/.env"
echo git >"$site/.git/HEAD"
echo h >"$site/.hidden/x.js"
ln -s /etc/passwd "$site/passwd"
ln -s img "$site/imglink"

"$CTL" manifest "$site" >"$WORK/m.json" || pt_fail "manifest exited $?"

# Each file against sha256sum and stat, and nothing else in it.
python3 - "$site" "$WORK/m.json" <<'PY' || pt_fail "manifest differs from sha256sum/stat (above)"
import json, os, subprocess, sys, urllib.parse
root, m = sys.argv[1], json.load(open(sys.argv[2]))
assert m["version"] == 1, m
res = m["resources"]
want = {}
for d, dirs, files in os.walk(root):
    dirs[:] = [x for x in dirs if not x.startswith(".")]
    for f in files:
        p = os.path.join(d, f)
        if f.startswith(".") or os.path.islink(p):
            continue
        rel = os.path.relpath(p, root)
        want["/" + urllib.parse.quote(rel, safe="/-._~")] = p
assert sorted(res) == sorted(want), (sorted(res), sorted(want))
types = {"png": "image/png", "webm": "video/webm", "html": "text/html; charset=utf-8",
         "css": "text/css; charset=utf-8", "txt": "text/plain; charset=utf-8", "bin": "application/octet-stream"}
for url, p in want.items():
    sha = subprocess.run(["sha256sum", p], capture_output=True, text=True, check=True).stdout.split()[0]
    e = res[url]
    assert e["sha256"] == sha, (url, e, sha)
    assert e["size"] == os.path.getsize(p), (url, e)
    assert e["type"] == types[p.rsplit(".", 1)[1]], (url, e)
print(f"{len(res)} files match sha256sum and stat", file=sys.stderr)
PY
grep -q '"/sp%20ace/%C3%A9%2B%25.css"' "$WORK/m.json" || pt_fail "URL not percent-encoded: $(grep css "$WORK/m.json")"
pt_log "hashes, sizes, types and URLs match sha256sum and stat"

# The same tree, the same bytes.
"$CTL" manifest "$site/" | cmp -s - "$WORK/m.json" || pt_fail "a second run (DIR/) differs"

# Prefixes.
"$CTL" manifest "$site" --prefix /static >"$WORK/p1.json"
grep -q '"/static/img/a.png"' "$WORK/p1.json" || pt_fail "--prefix /static: $(grep a.png "$WORK/p1.json")"
"$CTL" manifest "$site" --prefix=https://cdn.example.org/v2/ >"$WORK/p2.json"
grep -q '"https://cdn.example.org/v2/img/a.png"' "$WORK/p2.json" || pt_fail "--prefix URL: $(grep a.png "$WORK/p2.json")"

# -o inside DIR: written whole, and not listed (first run and second).
"$CTL" manifest "$site" -o "$site/peertrack-manifest.json" || pt_fail "-o exited $?"
"$CTL" manifest "$site" -o "$site/peertrack-manifest.json" || pt_fail "-o (again) exited $?"
cmp -s "$site/peertrack-manifest.json" "$WORK/m.json" || pt_fail "-o FILE in DIR: not the same manifest"
[ ! -e "$site/peertrack-manifest.json.tmp" ] || pt_fail "temporary file left behind"

# The browser client's parser reads it, and finds a file by URL.
node --input-type=module -e "
import { parseManifest } from '$PT_ROOT/clients/js/src/manifest.js';
import { readFileSync } from 'node:fs';
const m = parseManifest(readFileSync('$WORK/m.json', 'utf8'), 'http://127.0.0.1:8080/peertrack-manifest.json');
const e = m.get('http://127.0.0.1:8080/img/deep/er/b.webm');
if (!e || e.size !== 65537 || e.type !== 'video/webm') { console.error('lookup', e); process.exit(1); }
if (m.size !== 6) { console.error('size', m.size); process.exit(1); }
" || pt_fail "clients/js manifest.js does not read the output"

# Errors: exit 2 for usage, 1 for what cannot be read; nothing on stdout.
expect() { # STATUS ARGS...
	local want=$1 rc=0; shift
	"$CTL" manifest "$@" >"$WORK/e.out" 2>"$WORK/e.err" || rc=$?
	[ "$rc" -eq "$want" ] || pt_fail "manifest $*: exit $rc, wanted $want: $(cat "$WORK/e.err")"
	[ -s "$WORK/e.err" ] || pt_fail "manifest $*: no message"
	[ ! -s "$WORK/e.out" ] || pt_fail "manifest $*: wrote to stdout on error"
}
expect 2
expect 2 "$site" --bogus
expect 2 "$site/index.html"
expect 1 "$WORK/nonexistent"
expect 2 "$site" --prefix "$(head -c 2000 /dev/zero | tr '\0' a)"
if [ "$(id -u)" -ne 0 ]; then
	chmod 000 "$site/img/a.png"; expect 1 "$site"; chmod 644 "$site/img/a.png"
fi
expect 1 "$site" -o "$WORK/no/such/dir/m.json"
grep -q 'manifest DIR' <<<"$("$CTL" --help)" || pt_fail "peertrackctl --help does not list manifest"
pt_log "ok"
