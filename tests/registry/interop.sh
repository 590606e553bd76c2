#!/bin/sh
# tests/registry/interop.sh — inspect a live node without our code: Debian's
# nngcat (nng-utils) carries requests encoded by python3's msgpack module
# (python3-msgpack) to tests/registry/node_main, and the replies decode to
# the expected operations (docs/registry-protocol.md).
#
#   interop.sh PATH/TO/node_main
#
# Exit status: 0 pass, 1 fail, 77 skipped (a tool is missing; ctest reports
# the test as skipped). .ci/run installs both packages.
set -u

node_bin=${1:?usage: interop.sh PATH/TO/node_main}

if ! command -v nngcat >/dev/null 2>&1; then
	echo "SKIP: nngcat not found (apt-get install nng-utils)"
	exit 77
fi
# The first python3 that has msgpack (a pyenv shim may shadow Debian's).
py=
for p in python3 /usr/bin/python3; do
	if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import msgpack' 2>/dev/null; then
		py=$p
		break
	fi
done
if [ -z "$py" ]; then
	echo "SKIP: python3 msgpack module not found (apt-get install python3-msgpack)"
	exit 77
fi

tmp=$(mktemp -d /tmp/nact-interop-XXXXXX) || exit 1
chmod 700 "$tmp"
node_pid=
cleanup() {
	[ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	exit 1
}

XDG_RUNTIME_DIR=$tmp "$node_bin" interop 60 >"$tmp/url" 2>"$tmp/err" &
node_pid=$!
i=0
while [ ! -s "$tmp/url" ] && [ $i -lt 100 ]; do
	kill -0 "$node_pid" 2>/dev/null || fail "node exited: $(cat "$tmp/err")"
	sleep 0.1
	i=$((i + 1))
done
url=$(head -n 1 "$tmp/url")
[ -n "$url" ] || fail "no url from the node"
echo "node at $url"

# request FILE PYTHON-DICT: pack the dict, send it with nngcat, leave the
# raw reply in FILE.
request() {
	"$py" -c 'import msgpack, sys; sys.stdout.buffer.write(msgpack.packb(eval(sys.argv[1])))' \
		"$2" >"$tmp/req.bin" || fail "pack $2"
	# One send, one reply (REQ then refuses a second receive), under
	# timeout(1). No --count or --recv-timeout: with them nngcat 1.5.2
	# computes a negative timeout once a millisecond has passed and dies
	# with "Cannot set recv timeout: Invalid argument".
	timeout 20 nngcat --req --dial "$url" --file "$tmp/req.bin" --raw \
		>"$1" || fail "nngcat request $2"
}

# check FILE PYTHON-EXPR: the reply decoded as r must make EXPR true.
check() {
	"$py" - "$1" "$2" <<'EOF' || fail "$2"
import msgpack, sys
r = msgpack.unpackb(open(sys.argv[1], "rb").read(), raw=False)
ok = eval(sys.argv[2])
print(("ok   " if ok else "FAIL ") + sys.argv[2])
if not ok:
    print("     reply:", r)
sys.exit(0 if ok else 1)
EOF
}

request "$tmp/list" '{"v": 1, "verb": "list"}'
check "$tmp/list" 'r["v"] == 1 and r["ok"] is True'
check "$tmp/list" '[o["name"] for o in r["ops"]] == ["backup", "backup-index", "cleanup"]'
check "$tmp/list" '[o["status"] for o in r["ops"]] == ["running", "pending", "completed"]'
check "$tmp/list" 'r["ops"][0]["tags"] == "nightly" and r["ops"][0]["progress"] == 0.25'
check "$tmp/list" 'r["ops"][1]["parent"] == r["ops"][0]["id"]'

request "$tmp/run" '{"v": 1, "verb": "list", "status": "running"}'
check "$tmp/run" '[o["name"] for o in r["ops"]] == ["backup"]'

id=$("$py" -c 'import msgpack, sys; print(msgpack.unpackb(open(sys.argv[1], "rb").read())["ops"][0]["id"])' "$tmp/list")
request "$tmp/cancel" "{\"v\": 1, \"verb\": \"cancel\", \"id\": $id, \"message\": \"interop\"}"
check "$tmp/cancel" 'r == {"v": 1, "ok": True}'
request "$tmp/get" "{\"v\": 1, \"verb\": \"get\", \"id\": $id}"
check "$tmp/get" 'r["op"]["status"] == "cancelled" and r["op"]["reason"] == "manual" and r["op"]["message"] == "interop"'

request "$tmp/bad" '[1, 2, 3]'
check "$tmp/bad" 'r == {"v": 1, "ok": False, "error": "request must be a map"}'
request "$tmp/stats" '{"v": 1, "verb": "stats"}'
check "$tmp/stats" 'r["ok"] and r["node"] == "interop" and r["ops_live"] == 0 and r["ops_history"] == 3'

# send: a message to the named actor "echo" (docs/registry-protocol.md,
# "The send verb"). A request gets its reply's type and body back; a
# one-way message is seen through its side effect (echo counts type 7).
request "$tmp/call" '{"v": 1, "verb": "send", "name": "echo", "type": 5, "body": msgpack.packb("hello from nngcat"), "timeout_ms": 2000}'
check "$tmp/call" 'r["ok"] and r["type"] == 5 and msgpack.unpackb(r["body"], raw=False) == "hello from nngcat"'
for i in 1 2 3; do
	request "$tmp/tell" '{"v": 1, "verb": "send", "name": "echo", "type": 7, "body": msgpack.packb(1)}'
	check "$tmp/tell" 'r["ok"] is True and r["actor"] > 0'
done
request "$tmp/count" '{"v": 1, "verb": "send", "name": "echo", "type": 8, "timeout_ms": 2000}'
check "$tmp/count" 'r["ok"] and msgpack.unpackb(r["body"]) == [3]'
request "$tmp/noname" '{"v": 1, "verb": "send", "name": "nobody", "type": 7}'
check "$tmp/noname" 'r == {"v": 1, "ok": False, "error": "no actor by that name"}'
request "$tmp/reserved" '{"v": 1, "verb": "send", "name": "echo", "type": 0xFFFF0001}'
check "$tmp/reserved" 'r["ok"] is False and "reserved" in r["error"]'
request "$tmp/badbody" '{"v": 1, "verb": "send", "name": "echo", "type": 7, "body": b"\xc1"}'
check "$tmp/badbody" 'r["ok"] is False and "msgpack" in r["error"]'

# SIGTERM: an orderly stop that removes the socket file.
sock=${url#ipc://}
[ -S "$sock" ] || fail "no socket file at $sock"
kill -TERM "$node_pid"
wait "$node_pid"
rc=$?
node_pid=
[ $rc -eq 0 ] || fail "node exit status $rc after SIGTERM"
[ ! -e "$sock" ] || fail "socket file left behind"
echo "PASS"
