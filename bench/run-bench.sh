#!/usr/bin/env bash
# Runs the nactor benchmarks, then the peer actor systems on the same
# workloads (shared/peers/run-peers, when present), and prints a table of
# nactor's rate against the best peer's with the project's targets.
#
#   bench/run-bench.sh [--quick] [--strict] [--repeat N] BUILD_DIR
#
#   --quick     small sizes (seconds, not minutes), for a quick look
#   --strict    exit 1 if any target is SHORT (default: report only)
#   --repeat N  run everything N times (nactor and peers interleaved) and
#               keep each one's best figure: on a shared or busy machine a
#               single run can be cut short by other work
#
# BUILD_DIR is a configured and built tree (e.g. build-release); relative
# paths are taken from the current directory, then from the repo root.
# Every raw "peer=... bench=..." line is printed as it comes, then the table.
set -euo pipefail

quick=0 strict=0 repeat=1 build=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --strict) strict=1 ;;
    --repeat) repeat="$2"; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "usage: run-bench.sh [--quick] [--strict] [--repeat N] BUILD_DIR" >&2; exit 2 ;;
    *) build="$1" ;;
  esac
  shift
done
[ -n "$build" ] || { echo "usage: run-bench.sh [--quick] [--strict] [--repeat N] BUILD_DIR" >&2; exit 2; }
case "$repeat" in ''|*[!0-9]*|0) echo "run-bench: --repeat needs a count >= 1" >&2; exit 2 ;; esac

here="$(cd "$(dirname "$0")" && pwd)"
top="$(git -C "$here" rev-parse --show-toplevel 2>/dev/null || (cd "$here/.." && pwd))"
if [ -d "$build/bench" ]; then bdir="$(cd "$build/bench" && pwd)"
elif [ -d "$top/$build/bench" ]; then bdir="$top/$build/bench"
else echo "run-bench: no bench/ in $build (configure with -DNACT_BENCH=ON and build first)" >&2; exit 1
fi
for exe in savina spawn_idle; do
  [ -x "$bdir/$exe" ] || { echo "run-bench: $bdir/$exe is missing; build first" >&2; exit 1; }
done

if [ "$quick" = 1 ]; then
  ARGS="20000 200000 503 200000 10000 100 200"; SPAWN=100000; RESTARTS=10000; peer_flags=(--quick)
  ISOLATED=2000
else
  ARGS="200000 2000000 503 2000000 100000 1000 2000"; SPAWN=1000000; RESTARTS=100000; peer_flags=()
  ISOLATED=20000
fi

out="$(mktemp)"
trap 'rm -f "$out"' EXIT

peers="$top/../shared/peers/run-peers"
[ -f "$peers" ] || echo "run-bench: $peers not found; nactor figures only" >&2
for ((run = 1; run <= repeat; run++)); do
  echo "== run $run/$repeat nactor: savina $ARGS; spawn_idle $SPAWN" >&2
  # shellcheck disable=SC2086
  "$bdir/savina" $ARGS | tee -a "$out"
  "$bdir/spawn_idle" "$SPAWN" | tee -a "$out"
  # nactor only (no peer runs it): printed, not in the table
  if [ -x "$bdir/restart_latency" ]; then "$bdir/restart_latency" "$RESTARTS"; fi
  if [ -x "$bdir/isolated" ]; then "$bdir/isolated" "$ISOLATED"; fi
  if [ -f "$peers" ]; then
    echo "== run $run/$repeat peers: run-peers ${peer_flags[*]} --spawn $SPAWN" >&2
    # A failing peer is logged by run-peers and simply missing from the table.
    bash "$peers" "${peer_flags[@]}" --spawn "$SPAWN" | tee -a "$out" || echo "run-bench: run-peers failed" >&2
  fi
done

# Targets: rates are nactor/best-peer ratios, except spawn_idle's absolute
# rate (actors/s) and its memory per idle actor (bytes, lower is better).
awk -v strict="$strict" '
function fmt(v) {
  if (v == "") return "-"
  if (v >= 1e6) return sprintf("%.2fM", v / 1e6)
  if (v >= 1e3) return sprintf("%.1fk", v / 1e3)
  return sprintf("%d", v)
}
{
  peer = ""; bench = ""; rate = ""; bytes = ""
  for (i = 1; i <= NF; i++) {
    split($i, kv, "=")
    if (kv[1] == "peer") peer = kv[2]
    else if (kv[1] == "bench") bench = kv[2]
    else if (kv[1] == "rate") rate = kv[2] + 0
    else if (kv[1] == "bytes_per_actor") bytes = kv[2] + 0
  }
  if (peer == "" || bench == "") next
  if (!(peer in seen)) { seen[peer] = 1; if (peer != "nactor") peers[++np] = peer }
  # best of the repeats: highest rate, lowest bytes
  if (!((peer, bench) in R) || rate > R[peer, bench]) R[peer, bench] = rate
  if (bytes != "" && (!((peer, "spawn_idle_bytes") in R) || bytes < R[peer, "spawn_idle_bytes"]))
    R[peer, "spawn_idle_bytes"] = bytes
}
END {
  nb = split("pingpong counting threadring forkjoin_create big spawn_idle spawn_idle_bytes", benches, " ")
  T["pingpong"] = 3; T["counting"] = 2; T["threadring"] = 3; T["forkjoin_create"] = 4; T["big"] = 2
  hdr = sprintf("%-17s %10s", "bench", "nactor")
  for (p = 1; p <= np; p++) hdr = hdr sprintf(" %10s", peers[p])
  hdr = hdr sprintf(" %10s %8s %10s %6s", "best", "ratio", "target", "")
  print ""; print hdr
  short = 0
  for (b = 1; b <= nb; b++) {
    bn = benches[b]; low = (bn == "spawn_idle_bytes")
    if (!(("nactor", bn) in R)) continue
    me = R["nactor", bn]
    line = sprintf("%-17s %10s", bn, fmt(me))
    best = ""; bestp = "-"
    for (p = 1; p <= np; p++) {
      v = (peers[p], bn) in R ? R[peers[p], bn] : ""
      line = line sprintf(" %10s", fmt(v))
      if (v != "" && (best == "" || (low ? v < best : v > best))) { best = v; bestp = peers[p] }
    }
    ratio = (best != "" && best > 0) ? sprintf("%.2f", me / best) : "-"
    if (bn == "spawn_idle") { tgt = ">=3M/s"; ok = (me >= 3e6) }
    else if (low) { tgt = "<=200B"; ok = (me <= 200) }
    else if (best == "") { tgt = sprintf("%gx best", T[bn]); ok = -1 }
    else { tgt = sprintf("%gx best", T[bn]); ok = (me >= T[bn] * best) }
    if (ok == 0) short++
    line = line sprintf(" %10s %8s %10s %6s", bestp, ratio, tgt, ok < 0 ? "n/a" : ok ? "ok" : "SHORT")
    print line
  }
  print ""
  print (short == 0 ? "all targets met" : short " target(s) SHORT")
  if (strict && short > 0) exit 1
}' "$out"
