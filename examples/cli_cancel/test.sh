#!/bin/sh
# examples/cli_cancel/test.sh NACTORCTL CLI_CANCEL — the example against the
# real tool: start it, cancel its job with `nactorctl cancel ID`, and check
# that the job stopped with reason manual and the program exited 0.
set -u
ctl=$1
ex=$2
tmp=$(mktemp -d /tmp/nact-cli-XXXXXX)
export XDG_RUNTIME_DIR=$tmp
node=cli-cancel-test
fail() {
	echo "FAIL: $*"
	cat "$tmp/out" 2>/dev/null
	kill "$pid" 2>/dev/null
	rm -rf "$tmp"
	exit 1
}
"$ex" "$node" 30 >"$tmp/out" 2>&1 &
pid=$!
i=0
while ! grep -q "^job .* running on node" "$tmp/out" && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
id=$(sed -n 's/^job \([0-9]*\) running on node.*/\1/p' "$tmp/out")
[ -n "$id" ] || fail "the example did not start its job"
"$ctl" --timeout 5000 cancel "$id" --node "$node" --message "from the CLI test" >"$tmp/ctl" 2>&1 ||
	fail "nactorctl cancel exited $?: $(cat "$tmp/ctl")"
wait "$pid"
rc=$?
[ "$rc" -eq 0 ] || fail "the example exited $rc"
grep -q "cancelled, reason manual, message \"from the CLI test\"" "$tmp/out" ||
	fail "no manual cancel in the output"
[ ! -e "$tmp/nactor/$node.ipc" ] || fail "socket file left behind"
cat "$tmp/out"
rm -rf "$tmp"
echo "ok: job $id cancelled from nactorctl"
