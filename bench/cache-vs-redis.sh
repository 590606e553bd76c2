#!/bin/sh
# bench/cache-vs-redis.sh — the nactor cache actor beside Redis on loopback.
#
#   bench/cache-vs-redis.sh BUILD_DIR [N [KEYS [VALUESIZE]]]
#       (defaults N=1000000 KEYS=100000 VALUESIZE=3, redis-benchmark's -d default)
#
# Starts redis-server on a free loopback port (no persistence), runs
#   redis-benchmark -t set,get -n N -r KEYS -d VALUESIZE -P 16 -q   and  -P 1
# then BUILD_DIR/bench/cache N KEYS VALUESIZE (a client actor with 16, then
# 1, requests in flight), and prints every figure in the peers' format plus
# the ratio nactor/redis for each command and pipeline depth. The target is
# nactor >= 3x redis at -P 16. Exits 77 (skip) when redis is not installed.
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
if [ "$(grep -c '^peer=redis' "$out")" -ne 4 ]; then
	echo "cache-vs-redis: could not read redis-benchmark's figures:" >&2
	redis-benchmark -h 127.0.0.1 -p "$port" -t get -n 1000 -q >&2 || true
	exit 1
fi
"$bench" "$n" "$keys" "$vs" >>"$out"
cat "$out"

# Ratios: nactor rate / redis rate for each command and pipeline depth.
awk '
	{ for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
	  r[f["peer"] "," f["bench"] "," f["pipeline"]] = f["rate"] }
	END {
		for (p = 16; p >= 1; p -= 15)
			for (c = 0; c < 2; c++) {
				b = c ? "cache_get" : "cache_set"
				a = r["nactor," b "," p]; z = r["redis," b "," p]
				if (a > 0 && z > 0)
					printf "ratio bench=%s pipeline=%d nactor/redis=%.2f%s\n", b, p, a / z,
					    p == 16 ? (a / z >= 3 ? " target=3x met" : " target=3x MISSED") : ""
			}
	}' "$out"
