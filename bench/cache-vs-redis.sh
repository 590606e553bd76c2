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

# CPU ticks (user + system) redis-server has used so far; 0 without /proc.
server_ticks() {
	awk '{ print $14 + $15 }' "/proc/$rpid/stat" 2>/dev/null || echo 0
}
hz=$(getconf CLK_TCK 2>/dev/null || echo 100)

# rb TEST NCMDS P KEYS_PER_CMD: one redis-benchmark run of one test; prints
# its line with the rate in keys/s and the CPU time of redis-server plus
# redis-benchmark during the run (both sides' processes, as for nactor).
rb() {
	t0=$(server_ticks)
	(
		redis-benchmark -h 127.0.0.1 -p "$port" -t "$1" -n "$2" -r "$keys" -d "$vs" -P "$3" -q \
			>"$dir/rb.out" 2>/dev/null
		times >"$dir/times.out"
	)
	t1=$(server_ticks)
	ccpu=$(awk 'NR == 2 { split($1, u, "[ms]"); split($2, s, "[ms]"); print u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$dir/times.out")
	tr '\r' '\n' <"$dir/rb.out" | grep -E '^[A-Z]+( \([0-9]+ keys\))?: [0-9.]+ requests per second' | head -1 |
		sed 's/^[^:]*: //' | while read -r rate _; do
		awk -v t="$1" -v n="$2" -v p="$3" -v k="$4" -v r="$rate" -v keys="$keys" -v vs="$vs" \
			-v scpu="$(((t1 - t0)))" -v hz="$hz" -v ccpu="${ccpu:-0}" 'BEGIN {
			cpu = scpu / hz + ccpu
			printf "peer=redis bench=cache_%s n=%d seconds=%.3f rate=%.0f pipeline=%d keys=%s value_size=%s", t, n * k, n / r, r * k, p, keys, vs
			if (cpu > 0)
				printf " cpu_seconds=%.3f ops_per_cpu_second=%.0f", cpu, n * k / cpu
			if (k > 1)
				printf " batch=%d msg_rate=%.0f", k, r
			printf "\n"
		}'
	done
}

out="$dir/figures"
: >"$out"
for p in 16 1; do
	rb set "$n" "$p" 1 >>"$out"
	rb get "$n" "$p" 1 >>"$out"
done
# Redis's own batched set: MSET of 10 keys per command (redis-benchmark has
# no MGET test); its rate is given in keys per second.
mn=$((n / 10))
[ "$mn" -ge 1 ] || mn=1
rb mset "$mn" 16 10 >>"$out"
if [ "$(grep -c '^peer=redis' "$out")" -lt 4 ]; then
	echo "cache-vs-redis: could not read redis-benchmark's figures:" >&2
	redis-benchmark -h 127.0.0.1 -p "$port" -t get -n 1000 -q >&2 || true
	exit 1
fi
"$bench" "$n" "$keys" "$vs" >>"$out"
cat "$out"

# Ratios: nactor rate / redis rate for each command and pipeline depth,
# then the batched nactor rates (keys/s) against the same Redis figures.
# cpu_ratio: the same with operations per CPU-second of both sides'
# processes (steadier than the rates when other jobs share the machine).
awk '
	{ for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
	  k = f["peer"] "," f["bench"]
	  r[k "," f["pipeline"]] = f["rate"]; opc[k "," f["pipeline"]] = f["ops_per_cpu_second"]
	  if (f["batch"] != "") { bat[k] = f["batch"]; bp[k] = f["pipeline"] }
	  delete f }
	function cr(a, z) { return (a > 0 && z > 0) ? sprintf(" cpu_ratio=%.2f", a / z) : "" }
	END {
		for (p = 16; p >= 1; p -= 15)
			for (c = 0; c < 2; c++) {
				b = c ? "cache_get" : "cache_set"
				a = r["nactor," b "," p]; z = r["redis," b "," p]
				if (a > 0 && z > 0)
					printf "ratio bench=%s pipeline=%d per_message nactor/redis=%.2f%s%s\n", b, p, a / z,
					    cr(opc["nactor," b "," p], opc["redis," b "," p]),
					    (p == 16 ? (a / z >= 3 ? " target=3x met" : " target=3x MISSED") : "")
			}
		for (c = 0; c < 2; c++) {
			m = c ? "cache_mget" : "cache_mset"; s1 = c ? "cache_get" : "cache_set"
			a = r["nactor," m "," bp["nactor," m]]; z = r["redis," s1 ",16"]
			if (a > 0 && z > 0)
				printf "ratio bench=%s batched batch=%s in_flight=%s keys_per_s nactor/redis_%s_P16=%.2f%s%s\n",
				    m, bat["nactor," m], bp["nactor," m], (c ? "GET" : "SET"), a / z,
				    cr(opc["nactor," m "," bp["nactor," m]], opc["redis," s1 ",16"]),
				    (a / z >= 3 ? " target=3x met (batched)" : " target=3x MISSED (batched)")
		}
		a = r["nactor,cache_mset," bp["nactor,cache_mset"]]; z = r["redis,cache_mset,16"]
		if (a > 0 && z > 0)
			printf "ratio bench=cache_mset batched keys_per_s nactor(batch=%s)/redis_MSET(batch=10,P16)=%.2f%s\n",
			    bat["nactor,cache_mset"], a / z,
			    cr(opc["nactor,cache_mset," bp["nactor,cache_mset"]], opc["redis,cache_mset,16"])
	}' "$out"
