#!/bin/sh
# tests/tools/nactorctl_test.sh — nactorctl (tools/nactorctl, docs/nactorctl.1)
# against a live node, tests/registry/node_main, in a private runtime
# directory.
#
#   nactorctl_test.sh PATH/TO/nactorctl PATH/TO/node_main
#
# Contract checked: nodes lists the node and flags a stale socket; ls prints
# the header and the three operations (backup running, backup-index
# pending, cleanup completed) and --status filters; ls --json parses as JSON;
# tree draws backup with backup-index under it (and --json parses); watch
# --count 2, started before a cancel, prints both changes; --timeout is
# watch's idle timeout;
# show of a known id and of an unknown one (exit 4); cancel, then show says
# cancelled with the message; stats; exit 2 for usage errors, 3 with no
# node; members on a node outside a cluster (exit 1). top and doctor: on the plain node (metrics off) top says so and
# doctor finds nothing (exit 0); on a node started with --busy, top lists
# grower, feeder and crashy with their columns (--json parses, --count 2
# prints two screens) and doctor (exit 5) names grower for a growing
# mailbox and a slow handler, crashy for a restart storm, a dead-letter
# rate, and request cycles (the registry's wait-for graph).
set -u

ctl=${1:?usage: nactorctl_test.sh NACTORCTL NODE_MAIN}
node_bin=${2:?usage: nactorctl_test.sh NACTORCTL NODE_MAIN}

tmp=$(mktemp -d /tmp/nact-ctl-XXXXXX) || exit 1
chmod 700 "$tmp"
XDG_RUNTIME_DIR=$tmp
export XDG_RUNTIME_DIR
node_pid=
cleanup() {
	[ -n "$node_pid" ] && kill -TERM "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	exit 1
}
ok() {
	echo "ok   $*"
}

# run EXPECTED_RC CMD...: run nactorctl, output in $tmp/out and $tmp/err.
run() {
	want=$1
	shift
	"$ctl" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" -eq "$want" ] || {
		cat "$tmp/out" "$tmp/err"
		fail "nactorctl $* exited $rc, expected $want"
	}
}
# has PATTERN: the last stdout has a line matching the grep pattern.
has() {
	grep -q -- "$1" "$tmp/out" || {
		cat "$tmp/out"
		fail "output lacks /$1/"
	}
}

# ---- no node ----
run 3 ls
grep -q "no running node" "$tmp/err" || fail "ls without a node: $(cat "$tmp/err")"
run 3 nodes
ok "no node: exit 3"

# ---- usage errors ----
run 2
run 2 frobnicate
run 2 ls --bogus
grep -q "unknown option" "$tmp/err" || fail "unknown option message"
run 2 show abc
grep -q "bad operation id" "$tmp/err" || fail "non-numeric id message"
run 2 show
run 2 ls --status sleeping
run 2 ls --timeout x
run 2 top --sort bogus
grep -q "bad --sort" "$tmp/err" || fail "top --sort message"
run 2 top --interval 0
run 2 top --once=1
run 2 doctor --samples 1
run 2 doctor --slow x
run 2 watch --count 0
run 2 tree 1
grep -q "unexpected argument" "$tmp/err" || fail "tree with an argument"
run 0 --help
has "usage: nactorctl"
for c in nodes ls show cancel stats tree watch top doctor members; do
	run 0 "$c" --help
	has "usage: nactorctl $c"
done
ok "usage errors: exit 2, --help everywhere"

# ---- a live node ----
"$node_bin" ctltest 60 >"$tmp/url" 2>"$tmp/nodeerr" &
node_pid=$!
i=0
while [ ! -s "$tmp/url" ] && [ $i -lt 100 ]; do
	kill -0 "$node_pid" 2>/dev/null || fail "node exited: $(cat "$tmp/nodeerr")"
	sleep 0.1
	i=$((i + 1))
done
[ -s "$tmp/url" ] || fail "no url from the node"

run 0 nodes
has "^NODE  *PID  *LIVE ACTORS  *OPS  *MEMBERS  *STATE$"
has "^ctltest  *$node_pid  *[0-9][0-9]*  *2/1  *-  *running$"
[ "$(wc -l <"$tmp/out")" -eq 2 ] || fail "nodes: the status stream listed as a node: $(cat "$tmp/out")"
ok "nodes shows the node"

# not a cluster node: members says so (exit 1); the cluster case is in
# tests/members/test_members.c (test_nactorctl_members)
run 1 members
grep -q "not a cluster node" "$tmp/err" || fail "members on a plain node: $(cat "$tmp/err")"
ok "members on a node that is not in a cluster"

run 0 ls
has "^ID  *PARENT  *NAME  *STATUS  *PROGRESS  *MESSAGE$"
has "^ *1  *-  *backup  *running  *25%  *copying$"
has "^ *2  *1  *backup-index  *pending  *0%$"
has "^ *3  *-  *cleanup  *completed  *100%$"
[ "$(wc -l <"$tmp/out")" -eq 4 ] || fail "ls: expected 4 lines, got $(cat "$tmp/out")"
ok "ls table"
# Aligned: the STATUS column starts at the same offset on every line.
cols=$(for w in STATUS running pending completed; do
	grep -o "^.*  $w" "$tmp/out" | awk -v w="$w" '{ print length($0) - length(w) }'
done | sort -u | wc -l)
[ "$cols" -eq 1 ] || fail "ls: STATUS column not aligned"
ok "ls columns aligned"

run 0 ls --status running
has "backup  *running"
grep -q "cleanup" "$tmp/out" && fail "--status running shows cleanup"
run 0 ls --name 'backup*' --node ctltest
grep -q "cleanup" "$tmp/out" && fail "--name backup* shows cleanup"
has "backup-index"
ok "ls --status, --name"

py=
command -v python3 >/dev/null 2>&1 && py=python3
if [ -n "$py" ]; then
	run 0 ls --json
	"$py" -c 'import json, sys
ops = json.load(sys.stdin)
assert [o["name"] for o in ops] == ["backup", "backup-index", "cleanup"], ops
assert ops[0]["progress"] == 0.25 and ops[1]["parent"] == ops[0]["id"], ops' <"$tmp/out" ||
		fail "ls --json does not parse or has the wrong operations"
	run 0 stats --json
	"$py" -c 'import json, sys; d = json.load(sys.stdin); assert d["node"] == "ctltest" and d["ops_history"] == 1, d' \
		<"$tmp/out" || fail "stats --json"
	ok "ls --json, stats --json parse"
else
	echo "skip --json checks: python3 not found"
fi

run 0 tree
[ "$(cat "$tmp/out")" = "backup (1) running
└── backup-index (2) pending" ] || fail "tree: $(cat "$tmp/out")"
if [ -n "$py" ]; then
	run 0 tree --json --node ctltest
	"$py" -c 'import json, sys
d = json.load(sys.stdin)
assert d["truncated"] is False, d
(r,) = d["roots"]
assert (r["id"], r["name"], r["status"]) == (1, "backup", "running"), r
(c,) = r["children"]
assert (c["id"], c["name"], c["status"], c["children"]) == (2, "backup-index", "pending", []), c' \
		<"$tmp/out" || fail "tree --json"
fi
ok "tree, tree --json"

run 0 show 1
has "^name: *backup$"
has "^status: *running$"
has "^progress: *25% copying$"
run 4 show 999
grep -q "no such operation" "$tmp/err" || fail "show 999 message"
ok "show, and exit 4 for an unknown id"

# watch: subscribed before the cancel, it sees the child then the parent.
"$ctl" --timeout 10000 watch --count 2 >"$tmp/watch.out" 2>"$tmp/watch.err" &
watch_pid=$!
i=0
while ! grep -q "watching node ctltest" "$tmp/watch.err" && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
sleep 0.2 # the node's side of the connection
run 0 cancel 1 --message "from the test"
has "cancelled operation 1"
wait "$watch_pid"
rc=$?
[ "$rc" -eq 0 ] || fail "watch --count 2 exited $rc: $(cat "$tmp/watch.out" "$tmp/watch.err")"
[ "$(cat "$tmp/watch.out")" = "2 backup-index cancelled (parent): from the test
1 backup cancelled (manual): from the test" ] || fail "watch: $(cat "$tmp/watch.out")"
ok "watch --count 2 sees both changes"
run 0 show 1
has "^status: *cancelled$"
has "^reason: *manual$"
has "^message: *from the test$"
run 0 show 2
has "^status: *cancelled$"
has "^reason: *parent$"
run 1 cancel 1
grep -q "already finished" "$tmp/err" || fail "second cancel message"
run 4 cancel 999
run 0 tree
[ -s "$tmp/out" ] && fail "tree after cancel: $(cat "$tmp/out")"
grep -q "no live operations" "$tmp/err" || fail "empty tree message"
ok "cancel, then show says cancelled, tree is empty"

run 0 stats
has "^node: *ctltest$"
has "^pid: *$node_pid$"
has "^ops_history: *3$"
has "^pub_dropped: *0$"
run 1 --timeout 200 watch --count 1
grep -q "no event within 200 ms" "$tmp/err" || fail "watch idle timeout message"
run 0 watch --timeout 200
ok "stats; watch idle timeout"

run 0 top --once
has "^node ctltest "
has "metrics are off"
run 0 doctor --samples 2 --interval 100
has "^no findings$"
ok "top, doctor on a node with metrics off"

# ---- a stale socket: the node dies without cleaning up ----
kill -9 "$node_pid"
wait "$node_pid" 2>/dev/null
node_pid=
run 3 nodes
has "^ctltest  *-  *-  *-  *-  *dead (stale socket)$"
run 3 ls
run 3 show 1 --node ctltest
ok "stale socket flagged, exit 3"

# ---- top and doctor against a busy node ----
rm -f "$tmp/url"
"$node_bin" busynode 60 --busy >"$tmp/url" 2>"$tmp/nodeerr" &
node_pid=$!
i=0
while [ ! -s "$tmp/url" ] && [ $i -lt 100 ]; do
	kill -0 "$node_pid" 2>/dev/null || fail "busy node exited: $(cat "$tmp/nodeerr")"
	sleep 0.1
	i=$((i + 1))
done
[ -s "$tmp/url" ] || fail "no url from the busy node"
# crashy is restarted every 100 ms: a screen can fall between its crash
# and its restart, so take screens until one shows it (5 s at most)
i=0
while :; do
	run 0 top --once --node busynode
	grep -q "^0x[0-9a-f]*  *crashy  *[0-9]" "$tmp/out" || [ $i -ge 50 ] && break
	sleep 0.1
	i=$((i + 1))
done
has "^ID  *NAME  *DEPTH  *MSG/S  *IN  *OUT  *RESTARTS  *STATUS$"
has "^0x[0-9a-f]*  *grower  *[0-9]"
has "^0x[0-9a-f]*  *feeder  *[0-9]"
has "^0x[0-9a-f]*  *crashy  *[0-9]"
run 0 top --count 2 --interval 100 --sort in --limit 3 --node busynode
[ "$(grep -c '^node busynode ' "$tmp/out")" -eq 2 ] || fail "top --count 2: two screens"
[ "$(grep -c '^0x' "$tmp/out")" -eq 6 ] || fail "top --limit 3: three actors per screen"
if [ -n "$py" ]; then
	run 0 top --once --json --node busynode
	"$py" -c 'import json, sys
d = json.load(sys.stdin)
names = [a["name"] for a in d["actors"]]
assert d["metrics"] is True and "grower" in names and "feeder" in names, d
assert all(k in d["node"] for k in ("rss", "threads", "fds", "cpu_ns")), d' \
		<"$tmp/out" || fail "top --json"
fi
# doctor's slow-handler check needs grower's first (timed) 1 s call done
i=0
while [ $i -lt 100 ]; do
	"$ctl" top --once --node busynode >"$tmp/out" 2>/dev/null
	awk '$2 == "grower" && $5 >= 1 { f = 1 } END { exit !f }' "$tmp/out" && break
	sleep 0.1
	i=$((i + 1))
done
run 5 doctor --node busynode --interval 300
has "^mailbox-growing  *0x[0-9a-f]* (grower)  *depth [0-9]* -> "
has "^slow-handler  *0x[0-9a-f]* (grower)  *longest timed call [0-9.]*s"
has "^restart-storm  *0x[0-9a-f]* (crashy)  *restarted "
has "^deadletter-rate  *-  *[0-9.]* dead letters/s"
has "^request-cycle  *ops [0-9]* -> [0-9]* -> [0-9]* -> [0-9]*  *1 request refused"
if [ -n "$py" ]; then
	run 5 doctor --node busynode --interval 200 --samples 3 --json
	"$py" -c 'import json, sys
d = json.load(sys.stdin)
checks = {f["check"]: f["actors"] for f in d["findings"]}
assert "(grower)" in checks["mailbox-growing"] and "(crashy)" in checks["restart-storm"], d
assert d["samples"] == 3 and d["not_tracked"] == [], d
assert checks["request-cycle"].startswith("ops "), d' \
		<"$tmp/out" || fail "doctor --json"
fi
ok "top and doctor against a busy node"

echo "PASS"
