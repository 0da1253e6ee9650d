#!/usr/bin/env bash
# Runs the benchmarks of issue 7 (docs/performance.md) with -count and
# -benchmem and summarises them with benchstat (medians, ± the spread).
#
#   ./scripts/bench.sh                     # COUNT=6, results in a new temp dir (printed)
#   COUNT=10 OUT=/tmp/b ./scripts/bench.sh
#   BASE=/path/to/old/checkout ./scripts/bench.sh   # also run there; benchstat old vs new
#   THROUGHPUT=1 ./scripts/bench.sh        # also the sealing throughput (slow; PostgreSQL
#                                          # when CARDSEAL_TEST_POSTGRES is set)
#   ./scripts/bench.sh scale               # issue 13's scale proof, below
#
# The machines are shared and noisy: read the medians, compare with
# benchstat, and re-run before quoting a number. With BASE, old and new
# runs alternate so that load on the machine hits both alike.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-6}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/cardseal-bench-XXXXXX")}
mkdir -p "$OUT"
echo "bench.sh: results in $OUT" >&2
benchstat() {
	# type -P: a file on PATH, not this function.
	if type -P benchstat >/dev/null; then command benchstat "$@"
	elif [ -x "$(go env GOPATH)/bin/benchstat" ]; then "$(go env GOPATH)/bin/benchstat" "$@"
	else go run golang.org/x/perf/cmd/benchstat@latest "$@"; fi
}

# scale: lifecycle's BenchmarkScale (docs/performance.md, "Scale") — the
# public check (hot and cold), the manual check, a village's queue page and
# an export page on a registry of 1 000 cards and of SCALE_CARDS (default
# 1 000 000), on SQLite and, with CARDSEAL_TEST_POSTGRES, on PostgreSQL.
# The registries are filled once (minutes; about 2 GB per backend) into
# SCALE_DIR (a temporary directory removed at the end unless given; given,
# it is kept and reused). Then COUNT rounds, each one process measuring
# every case once, so both sizes of an operation are measured seconds
# apart in every round however the load on the machine drifts. Prints
# benchstat's table, the ratio of the medians (large / 1 000; the target
# is at most 1.5, exit status 1 otherwise) and the query plans on the
# large registries (TestQueryPlans with CARDSEAL_PLAN_URLS).
#
#   ./scripts/bench.sh scale
#   SCALE_CARDS=100000 COUNT=3 SCALE_DIR=/var/tmp/scale ./scripts/bench.sh scale
scale() {
	# Not local: the trap runs after scale has returned.
	cards=${SCALE_CARDS:-1000000} dir=${SCALE_DIR:-} keep=1
	if [ -z "$dir" ]; then
		dir=$(mktemp -d "${TMPDIR:-/tmp}/cardseal-scale-XXXXXX")
		keep=
	fi
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	schemas() { sed -n 's/.*"URL": "postgres.*search_path=\([a-z0-9_]*\).*/\1/p' "$dir"/*.json 2>/dev/null; }
	cleanup() {
		[ -n "$keep" ] && return
		local s
		for s in $(schemas); do
			if command -v psql >/dev/null; then
				psql -q "$CARDSEAL_TEST_POSTGRES" -c "SET client_min_messages = warning" -c "DROP SCHEMA IF EXISTS $s CASCADE"
			else
				echo "bench.sh: drop the schema $s yourself (no psql here)" >&2
			fi
		done
		rm -rf "$dir"
	}
	trap cleanup EXIT
	go test -c -o "$OUT/lifecycle.test" ./lifecycle
	bench() { # extra flags…
		(cd lifecycle && CARDSEAL_SCALE_DIR="$dir" CARDSEAL_SCALE_CARDS="$cards" \
			"$OUT/lifecycle.test" -test.run '^$' -test.bench '^BenchmarkScale$' -test.timeout 3h "$@")
	}
	echo "bench.sh: filling (or reusing) the registries in $dir" >&2
	if ! bench -test.benchtime 1x -test.v >"$OUT/fill.txt" 2>&1; then
		cat "$OUT/fill.txt" >&2
		return 1
	fi
	grep -E 'filled|reusing|SKIP' "$OUT/fill.txt" >&2 || true
	: >"$OUT/scale.txt"
	for i in $(seq 1 "$COUNT"); do
		echo "bench.sh: round $i of $COUNT" >&2
		bench -test.benchtime "${BENCHTIME:-1s}" -test.benchmem | grep -E '^(Benchmark|goos|goarch|pkg|cpu)' >>"$OUT/scale.txt"
	done
	benchstat -col /cards "$OUT/scale.txt" | tee "$OUT/benchstat.txt"
	local status=0
	ratios || status=1
	local urls
	urls=$(sed -n 's/.*"URL": "\(.*\)",$/\1/p' "$dir"/*.json | tr '\n' ' ')
	CARDSEAL_PLAN_URLS="$urls" go test -count 1 -run '^TestQueryPlans$/^registry-' -v ./store >"$OUT/plans.txt" 2>&1 ||
		{ echo "bench.sh: a plan on the large registries reads no index or sorts: $OUT/plans.txt" >&2; status=1; }
	echo "bench.sh: plans in $OUT/plans.txt; PostgreSQL buffers read per query:" >&2
	awk '/postgres registry of [0-9]+ cards/ { print "  " $2 ", " $5 " cards" }
		/^=== RUN +TestQueryPlans\/registry-[0-9]+\// { sub(/.*\//, "", $3); name = $3 }
		/executed:/ { want = 1 }
		want && /Buffers:/ { sub(/^ +/, ""); printf "    %-32s %s\n", name, $0; want = 0 }' "$OUT/plans.txt" | tee "$OUT/buffers.txt"
	echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), load $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/machine.txt"
	return "$status"
}
# ratios prints, for each operation, its median at both sizes and two
# ratios, large / 1 000: of the medians, and the median of the rounds'
# ratios (a round measures both sizes seconds apart, so load that drifts
# between rounds cancels out) — for the wall-clock time and for the CPU
# time of the benchmark process (cpu-ns/op: all of the work on SQLite, the
# client's on PostgreSQL; it does not count waiting for a core, so it
# swings less with the load of a shared machine). It fails if the median
# of the rounds' wall-clock ratios is above 1.5.
ratios() {
	sed -nE 's/^BenchmarkScale\/(.*)\/cards=([0-9]+)(-[0-9]+)?[[:space:]]+[0-9]+[[:space:]]+([0-9.]+) ns\/op.*[[:space:]]([0-9.]+) cpu-ns\/op.*/\1 \2 \4 \5/p' "$OUT/scale.txt" | awk '
		function median(a, n,   i, j, x) {
			for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j > 0 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
			return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		# stats sets ma, mb (medians at 1 000 and large), rm (their ratio)
		# and mr (median of the rounds ratios) of column c (3 wall, 4 CPU).
		function stats(o, c,   n, k, a, b, r) {
			n = ns[o] < nb[o] ? ns[o] : nb[o]
			for (k = 1; k <= n; k++) { a[k] = small[o, k, c]; b[k] = big[o, k, c]; r[k] = b[k] / a[k] }
			ma = median(a, n); mb = median(b, n); rm = mb / ma; mr = median(r, n)
		}
		{ if (!($1 in seen)) { seen[$1] = 1; ops[++nops] = $1 }
		  if ($2 == 1000) { k = ++ns[$1]; small[$1, k, 3] = $3; small[$1, k, 4] = $4 }
		  else { k = ++nb[$1]; big[$1, k, 3] = $3; big[$1, k, 4] = $4; size = $2 } }
		END {
			bad = 0
			printf "%-20s │ %-44s │ %-44s\n", "", "wall-clock time (median)", "CPU time of the process (median)"
			printf "%-20s │ %10s %10s %10s %11s │ %10s %10s %10s %11s\n", "operation", "1000", size, "ratio", "of rounds", "1000", size, "ratio", "of rounds"
			for (i = 1; i <= nops; i++) {
				o = ops[i]
				stats(o, 3); line = sprintf("%-20s │ %8.1fµs %8.1fµs %10.2f %11.2f", o, ma / 1000, mb / 1000, rm, mr); flag = mr > 1.5
				stats(o, 4); line = line sprintf(" │ %8.1fµs %8.1fµs %10.2f %11.2f", ma / 1000, mb / 1000, rm, mr)
				print line (flag ? "  > 1.5" : "")
				bad = bad || flag
			}
			exit bad
		}' | tee "$OUT/ratios.txt"
}
if [ "${1:-}" = scale ]; then
	scale
	exit
fi

# package → benchmark regexp
benches=(
	"./signer BenchmarkSeal$"
	"./verifier BenchmarkSealCard|BenchmarkVerify$"
	"./templates BenchmarkRender$"
	"./token BenchmarkVerify$"
	"./api BenchmarkVerifyToken$|BenchmarkHealthz$"
)
run() { # dir outfile
	: >"$2"
	for i in $(seq 1 "$COUNT"); do
		for b in "${benches[@]}"; do
			read -r pkg re <<<"$b"
			(cd "$1" && go test -run '^$' -bench "$re" -benchmem -count 1 "$pkg") | grep -E '^(Benchmark|goos|goarch|pkg|cpu)' >>"$2"
		done
	done
}
if [ -n "${BASE:-}" ]; then
	: >"$OUT/old.txt"
	: >"$OUT/new.txt"
	for i in $(seq 1 "$COUNT"); do
		COUNT=1 run "$BASE" "$OUT/old.1" && cat "$OUT/old.1" >>"$OUT/old.txt"
		COUNT=1 run . "$OUT/new.1" && cat "$OUT/new.1" >>"$OUT/new.txt"
	done
	rm -f "$OUT/old.1" "$OUT/new.1"
	benchstat "$OUT/old.txt" "$OUT/new.txt" | tee "$OUT/benchstat.txt"
else
	run . "$OUT/new.txt"
	benchstat "$OUT/new.txt" | tee "$OUT/benchstat.txt"
fi

if [ -n "${THROUGHPUT:-}" ]; then
	go test -run '^$' -bench 'BenchmarkSealThroughput' -benchtime "${CARDS:-60}x" -count "${TCOUNT:-3}" ./lifecycle |
		grep -E '^(Benchmark|goos|goarch|pkg|cpu)' | tee "$OUT/throughput.txt"
	benchstat "$OUT/throughput.txt" | tee "$OUT/throughput-benchstat.txt"
fi
echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)" | tee "$OUT/machine.txt"
