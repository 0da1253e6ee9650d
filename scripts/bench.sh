#!/usr/bin/env bash
# Runs the benchmarks of issue 7 (docs/performance.md) with -count and
# -benchmem and summarises them with benchstat (medians, ± the spread).
#
#   ./scripts/bench.sh                     # COUNT=6, results in a new temp dir (printed)
#   COUNT=10 OUT=/tmp/b ./scripts/bench.sh
#   BASE=/path/to/old/checkout ./scripts/bench.sh   # also run there; benchstat old vs new
#   THROUGHPUT=1 ./scripts/bench.sh        # also the sealing throughput (slow; PostgreSQL
#                                          # when CARDSEAL_TEST_POSTGRES is set)
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
	if command -v benchstat >/dev/null; then command benchstat "$@"
	elif [ -x "$(go env GOPATH)/bin/benchstat" ]; then "$(go env GOPATH)/bin/benchstat" "$@"
	else go run golang.org/x/perf/cmd/benchstat@latest "$@"; fi
}

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
