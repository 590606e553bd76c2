#!/bin/sh
# bench/cache-vs-redis.sh — the nactor cache actor beside Redis on loopback.
#
#   bench/cache-vs-redis.sh BUILD_DIR [N [KEYS [VALUESIZE]]]
#       (defaults N=1000000 KEYS=100000 VALUESIZE=3, redis-benchmark's -d default)
#
# Starts redis-server on a free loopback port (no persistence), runs
#   redis-benchmark -t set,get -n N -r KEYS -d VALUESIZE -P 16 -q   and  -P 1
#   redis-benchmark -t mset -n N/10 -r KEYS -d VALUESIZE -P 16 -q
#     (Redis's own batch: MSET of 10 keys; its rate is given in keys/s)
# then BUILD_DIR/bench/cache N KEYS VALUESIZE (a client actor with 16, then
# 1, requests in flight, one key per message; then MSET/MGET of 16 keys per
# message, 4 messages in flight), and prints every figure in the peers'
# format plus the ratios nactor/redis:
#   - per message (one key per request) for each command and depth: the
#     target of issue 6 is nactor >= 3x redis at -P 16;
#   - batched (16 keys per nactor message, rate in keys/s) against the same
#     Redis -P 16 single-key figures, labelled batched, and beside Redis's
#     own MSET (10 keys per command) for the set side.
# Exits 77 (skip) when redis is not installed.
set -eu

build=${1:?usage: cache-vs-redis.sh BUILD_DIR [N [KEYS [VALUESIZE]]]}
n=${2:-1000000}
keys=${3:-100000}
vs=${4:-3}
bench="$build/bench/cache"

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-benchmark >/dev/null 2>&1; then
	echo "cache-vs-redis: SKIP: redis-server / redis-benchmark not installed (apt-get install redis-server redis-tools)"
	exit 77
fi
if [ ! -x "$bench" ]; then
	echo "cache-vs-redis: $bench not built" >&2
	exit 2
fi

# A free loopback port: ask the kernel when python3 is there.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
	echo $((20000 + $$ % 20000)))
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
	--daemonize no --logfile "$dir/redis.log" &
rpid=$!
trap 'kill $rpid 2>/dev/null; wait $rpid 2>/dev/null; rm -rf "$dir"' EXIT INT TERM
i=0
until redis-cli -p "$port" ping >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then
		echo "cache-vs-redis: redis-server did not start on port $port" >&2
		cat "$dir/redis.log" >&2
		exit 1
	fi
	sleep 0.1
done

out="$dir/figures"
: >"$out"
for p in 16 1; do
	redis-benchmark -h 127.0.0.1 -p "$port" -t set,get -n "$n" -r "$keys" -d "$vs" -P "$p" -q 2>/dev/null |
		tr '\r' '\n' | grep -E '^(SET|GET): [0-9.]+ requests per second' |
		while read -r cmd rate _; do
			c=$(echo "$cmd" | tr 'A-Z:' 'a-z ' | tr -d ' ')
			secs=$(awk -v n="$n" -v r="$rate" 'BEGIN { printf "%.3f", n / r }')
			echo "peer=redis bench=cache_$c n=$n seconds=$secs rate=${rate%.*} pipeline=$p keys=$keys value_size=$vs"
		done >>"$out"
done
# Redis's own batched set: MSET of 10 keys per command (redis-benchmark has
# no MGET test); its rate is turned into keys per second.
mn=$((n / 10))
[ "$mn" -ge 1 ] || mn=1
redis-benchmark -h 127.0.0.1 -p "$port" -t mset -n "$mn" -r "$keys" -d "$vs" -P 16 -q 2>/dev/null |
	tr '\r' '\n' | grep -E '^MSET \(10 keys\): [0-9.]+ requests per second' |
	while read -r _ _ _ rate _; do
		secs=$(awk -v n="$mn" -v r="$rate" 'BEGIN { printf "%.3f", n / r }')
		krate=$(awk -v r="$rate" 'BEGIN { printf "%.0f", r * 10 }')
		echo "peer=redis bench=cache_mset n=$((mn * 10)) seconds=$secs rate=$krate pipeline=16 keys=$keys value_size=$vs batch=10 msg_rate=${rate%.*}"
	done >>"$out"
if [ "$(grep -c '^peer=redis' "$out")" -lt 4 ]; then
	echo "cache-vs-redis: could not read redis-benchmark's figures:" >&2
	redis-benchmark -h 127.0.0.1 -p "$port" -t get -n 1000 -q >&2 || true
	exit 1
fi
"$bench" "$n" "$keys" "$vs" >>"$out"
cat "$out"

# Ratios: nactor rate / redis rate for each command and pipeline depth,
# then the batched nactor rates (keys/s) against the same Redis figures.
awk '
	{ for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
	  r[f["peer"] "," f["bench"] "," f["pipeline"]] = f["rate"]
	  if (f["batch"] != "") { bat[f["peer"] "," f["bench"]] = f["batch"]; bp[f["peer"] "," f["bench"]] = f["pipeline"] }
	  delete f }
	END {
		for (p = 16; p >= 1; p -= 15)
			for (c = 0; c < 2; c++) {
				b = c ? "cache_get" : "cache_set"
				a = r["nactor," b "," p]; z = r["redis," b "," p]
				if (a > 0 && z > 0)
					printf "ratio bench=%s pipeline=%d per_message nactor/redis=%.2f%s\n", b, p, a / z,
					    p == 16 ? (a / z >= 3 ? " target=3x met" : " target=3x MISSED") : ""
			}
		for (c = 0; c < 2; c++) {
			m = c ? "cache_mget" : "cache_mset"; s1 = c ? "cache_get" : "cache_set"
			a = r["nactor," m "," bp["nactor," m]]; z = r["redis," s1 ",16"]
			if (a > 0 && z > 0)
				printf "ratio bench=%s batched batch=%s in_flight=%s keys_per_s nactor/redis_%s_P16=%.2f%s\n",
				    m, bat["nactor," m], bp["nactor," m], (c ? "GET" : "SET"), a / z,
				    (a / z >= 3 ? " target=3x met (batched)" : " target=3x MISSED (batched)")
		}
		a = r["nactor,cache_mset," bp["nactor,cache_mset"]]; z = r["redis,cache_mset,16"]
		if (a > 0 && z > 0)
			printf "ratio bench=cache_mset batched keys_per_s nactor(batch=%s)/redis_MSET(batch=10,P16)=%.2f\n",
			    bat["nactor,cache_mset"], a / z
	}' "$out"
