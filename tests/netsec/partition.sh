#!/bin/sh
# tests/netsec/partition.sh PATH/TO/part_node — a network partition between
# two nodes: two network namespaces joined by a veth pair, one node in each
# (tcp over the veth). Cut the link: each side reports the other down;
# restore it: they reconnect and report it up again.
# Needs root and `ip netns`; otherwise exit 77 (skipped) with a message.
set -u
bin=${1:?usage: partition.sh PATH/TO/part_node}
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: partition test needs root (network namespaces)"
	exit 77
fi
if ! command -v ip >/dev/null 2>&1; then
	echo "SKIP: partition test needs iproute2 (ip)"
	exit 77
fi
tag=nsp$$
na=${tag}a
nb=${tag}b
net=10.$((200 + $$ % 50)).$(($$ / 50 % 250)).
tmp=$(mktemp -d /tmp/nact-partition-XXXXXX) || exit 1
pa=
pb=
cleanup() {
	exec 3>&- 4>&- 2>/dev/null
	[ -n "$pa" ] && kill "$pa" 2>/dev/null
	[ -n "$pb" ] && kill "$pb" 2>/dev/null
	wait 2>/dev/null
	ip netns del "$na" 2>/dev/null
	ip netns del "$nb" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
if ! ip netns add "$na" 2>/dev/null; then
	echo "SKIP: ip netns does not work here"
	exit 77
fi
ip netns add "$nb" || exit 1
ip link add "${tag}x" type veth peer name "${tag}y" || { echo "SKIP: no veth"; exit 77; }
ip link set "${tag}x" netns "$na" && ip link set "${tag}y" netns "$nb" || exit 1
ip -n "$na" addr add "${net}1/24" dev "${tag}x" && ip -n "$nb" addr add "${net}2/24" dev "${tag}y" || exit 1
ip -n "$na" link set "${tag}x" up && ip -n "$nb" link set "${tag}y" up || exit 1
ip -n "$na" link set lo up; ip -n "$nb" link set lo up

mkfifo "$tmp/ia" "$tmp/ib"
ip netns exec "$nb" "$bin" b "tcp://${net}2:7400" - a < "$tmp/ib" > "$tmp/ob" 2>&1 &
pb=$!
exec 4> "$tmp/ib"
ip netns exec "$na" "$bin" a "tcp://${net}1:7400" "tcp://${net}2:7400" b < "$tmp/ia" > "$tmp/oa" 2>&1 &
pa=$!
exec 3> "$tmp/ia"

# wait_for FILE PATTERN-COUNT PATTERN SECONDS
wait_for() {
	i=0
	while [ $i -lt $(($4 * 10)) ]; do
		[ "$(grep -c "^$3\$" "$1")" -ge "$2" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
fail() {
	echo "FAIL: $1"
	echo "--- a"; cat "$tmp/oa"; echo "--- b"; cat "$tmp/ob"
	exit 1
}
wait_for "$tmp/oa" 1 "UP b" 20 || fail "a never saw b up"
wait_for "$tmp/ob" 1 "UP a" 20 || fail "b never saw a up"
echo "connected; cutting the link"
ip -n "$na" link set "${tag}x" down
wait_for "$tmp/oa" 1 "DOWN b" 20 || fail "a did not see b down"
wait_for "$tmp/ob" 1 "DOWN a" 20 || fail "b did not see a down"
echo "both sides saw nodedown; restoring the link"
ip -n "$na" link set "${tag}x" up
wait_for "$tmp/oa" 2 "UP b" 30 || fail "a did not see b rejoin"
wait_for "$tmp/ob" 2 "UP a" 30 || fail "b did not see a rejoin"
echo "rejoined"
cat "$tmp/oa"
echo "PASS"
