#!/bin/sh
# tests/cancel/demo_serve.sh NACTORCTL NACTOR_DEMO — `nactor_demo --serve`
# (the make demo program) inspected with nactorctl: ls shows the jobs,
# tree shows the operations and the supervision tree, watch sees status
# changes and progress events (also --json), and SIGTERM stops it cleanly (exit 0).
set -u
ctl=$1
demo=$2
tmp=$(mktemp -d /tmp/nact-demo-XXXXXX)
export XDG_RUNTIME_DIR=$tmp
node=demo-test
step() {
	echo "$(date +%T.%N | cut -c1-12) $*"
}
fail() {
	echo "FAIL: $*"
	echo "--- demo output:"
	cat "$tmp/out" 2>/dev/null
	kill -9 "$pid" 2>/dev/null
	rm -rf "$tmp"
	exit 1
}
: >"$tmp/out"
"$demo" --serve 60 --node "$node" >"$tmp/out" 2>&1 &
pid=$!
i=0
while ! grep -q "serving node" "$tmp/out" && [ $i -lt 400 ]; do
	sleep 0.05
	i=$((i + 1))
done
grep -q "serving node \"$node\"" "$tmp/out" || fail "the demo did not serve"
step "serving"
# the workers start their first jobs on their first tick
i=0
while ! "$ctl" --timeout 1000 ls --node "$node" 2>/dev/null | grep -q "report #1" &&
	[ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
step "jobs started"
"$ctl" ls --node "$node" >"$tmp/ls" 2>&1 || fail "ls: $(cat "$tmp/ls")"
for j in "import-1 #1" "import-2 #1" "report #1"; do
	grep -q "$j" "$tmp/ls" || fail "ls lacks $j: $(cat "$tmp/ls")"
done
# (a supervisor busy beyond 500 ms would be "unresponsive": retry a little)
i=0
while :; do
	"$ctl" tree --node "$node" >"$tmp/tree" 2>&1 || fail "tree: $(cat "$tmp/tree")"
	grep -q "unresponsive" "$tmp/tree" && [ $i -lt 5 ] || break
	i=$((i + 1))
done
grep -q "^supervisors:" "$tmp/tree" || fail "tree has no supervisors: $(cat "$tmp/tree")"
grep -q "^jobs \[supervisor\] (aid [0-9]*) running" "$tmp/tree" || fail "tree: no jobs supervisor"
grep -q "report \[worker\] (aid [0-9]*) running" "$tmp/tree" || fail "tree: no report worker"
"$ctl" tree --node "$node" --json >"$tmp/tree.json" 2>&1 || fail "tree --json"
grep -q '"supervisors":' "$tmp/tree.json" || fail "tree --json lacks supervisors"
step "ls, tree ok"
"$ctl" --timeout 10000 watch --node "$node" --count 20 >"$tmp/watch" 2>"$tmp/watch.err" ||
	fail "watch exited $?: $(cat "$tmp/watch.err")"
grep -q " progress [0-9]*%: " "$tmp/watch" || fail "watch saw no progress: $(cat "$tmp/watch")"
"$ctl" --timeout 10000 watch --node "$node" --count 20 --json >"$tmp/watch.json" 2>"$tmp/watch.err" ||
	fail "watch --json exited $?: $(cat "$tmp/watch.err")"
grep -q '^{"event":"progress","id":[0-9]*,' "$tmp/watch.json" ||
	fail "watch --json: no progress event: $(cat "$tmp/watch.json")"
step "watch ok"
kill -TERM "$pid"
wait "$pid"
rc=$?
step "demo exited $rc"
[ "$rc" -eq 0 ] || fail "the demo exited $rc after SIGTERM"
grep -q "SIGTERM: every operation cancelled" "$tmp/out" || fail "no signal line"
grep -q "main:    stopped" "$tmp/out" || fail "no orderly stop"
[ ! -e "$tmp/nactor/$node.ipc" ] || fail "socket file left behind"
rm -rf "$tmp"
echo "ok: demo --serve inspected with ls, tree, watch; SIGTERM stopped it"
