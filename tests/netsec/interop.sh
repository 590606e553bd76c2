#!/bin/sh
# tests/netsec/interop.sh PATH/TO/interop_node — a client in another
# language talks to a named actor on a live node: tests/netsec/plain_client.py
# (python3 + msgpack, raw sockets, no nng) looks up "adder" by name and sends
# it numbers; interop_node prints the running sum, which must reach the
# expected total. Exit 0 pass, 1 fail, 77 skipped (python3-msgpack missing).
#
# nngcat (nng-utils) cannot speak the node protocol: one nngcat run sends
# one payload on a fresh connection and cannot answer the node's CHALLENGE
# / OK. It reaches the same actor through the node's registry socket
# instead: a python3-msgpack-encoded "send" request (docs/registry-protocol.md)
# adds 100, and the sum must reach 142. Skipped (with a message) without
# nngcat.
set -u
node_bin=${1:?usage: interop.sh PATH/TO/interop_node}
here=$(cd "$(dirname "$0")" && pwd)
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
tmp=$(mktemp -d /tmp/nact-netsec-interop-XXXXXX) || exit 1
fifo=$tmp/in
mkfifo "$fifo"
node_pid=
cleanup() {
	exec 3>&- 2>/dev/null
	[ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
XDG_RUNTIME_DIR=$tmp "$node_bin" < "$fifo" > "$tmp/out" 2> "$tmp/err" &
node_pid=$!
exec 3> "$fifo" # keeps the node's stdin open
url=
for i in $(seq 1 100); do
	url=$(sed -n 's/^URL //p' "$tmp/out")
	[ -n "$url" ] && break
	sleep 0.1
done
[ -n "$url" ] || { echo "FAIL: node did not start"; cat "$tmp/err"; exit 1; }
"$py" "$here/plain_client.py" "$url" 5 10 27 || { echo "FAIL: client"; cat "$tmp/err"; exit 1; }
for i in $(seq 1 100); do
	grep -q '^SUM 42$' "$tmp/out" && grep -q '^BAD' "$tmp/out" && break
	sleep 0.1
done
cat "$tmp/out"
grep -q '^SUM 42$' "$tmp/out" || { echo "FAIL: sum 42 not reached"; cat "$tmp/err"; exit 1; }
grep -q '^BAD' "$tmp/out" || { echo "FAIL: bad body not reported"; exit 1; }
if command -v nngcat >/dev/null 2>&1; then
	reg=$(sed -n 's/^REG //p' "$tmp/out")
	"$py" -c 'import msgpack, sys; sys.stdout.buffer.write(msgpack.packb({"v": 1, "verb": "send", "name": "adder", "type": 3, "body": msgpack.packb([100])}))' >"$tmp/req.bin"
	timeout 20 nngcat --req --dial "$reg" --file "$tmp/req.bin" --raw >"$tmp/rep.bin" ||
		{ echo "FAIL: nngcat"; exit 1; }
	"$py" -c 'import msgpack, sys; r = msgpack.unpackb(open(sys.argv[1], "rb").read()); sys.exit(0 if r["ok"] is True else 1)' "$tmp/rep.bin" ||
		{ echo "FAIL: send verb refused"; exit 1; }
	for i in $(seq 1 100); do
		grep -q '^SUM 142$' "$tmp/out" && break
		sleep 0.1
	done
	grep -q '^SUM 142$' "$tmp/out" || { echo "FAIL: nngcat's 100 did not reach adder"; cat "$tmp/out"; exit 1; }
	echo "nngcat: SUM 142"
else
	echo "nngcat not found (apt-get install nng-utils): its part is skipped"
fi
kill -0 "$node_pid" || { echo "FAIL: node died"; exit 1; }
echo "PASS"
