#!/usr/bin/env bash
# Load test of the public QR check (issue 7). Starts cardseal on loopback
# with a fresh data directory and the demo province, creates one card and
# seals it village → township → county through the staff API, then runs
# wrk (Debian package wrk) against GET /api/v1/verify/{token} and, in the
# same run on the same server, against a trivial handler. Prints req/s of
# each, their ratio (target ≥ 0.5), p99 latency (target < 20 ms), errors
# (target 0) and the server's resident memory before and after. Stops the
# server and removes the data directory by itself.
#
#   DURATION=30 CONNECTIONS=64 THREADS=2 ./scripts/loadtest.sh
#
# TRIVIAL is the reference path (default /api/v1/ping when the server has
# it, else /healthz, which reads the organisations from the store: see
# docs/performance.md). The public endpoints are rate limited per client
# IP, so the server runs with --trust-proxy and wrk sends each request
# from one of 16384 documentation-range addresses in X-Forwarded-For (as
# many phones would); the limiter itself stays in the measured path.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-30}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-5}
PORT=${PORT:-$((20000 + RANDOM % 20000))}
PASSWORD=loadtest-demo-password
case $DURATION in '' | *[!0-9]*) echo "loadtest.sh: DURATION must be whole seconds" >&2; exit 2 ;; esac
if [ "$DURATION" -gt 600 ]; then
	echo "loadtest.sh: DURATION is bounded to 600 s" >&2
	exit 2
fi
for c in wrk curl jq; do
	command -v "$c" >/dev/null || { echo "loadtest.sh: $c is required (apt-get install wrk curl jq)" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/cardseal-loadtest-XXXXXX")
pid=""
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

go build -o "$work/cardseal" ./cmd/cardseal
base="http://127.0.0.1:$PORT"
CARDSEAL_KEY_PASSPHRASE=loadtest-passphrase XDG_CONFIG_HOME="$work/config" \
	"$work/cardseal" serve --dir "$work/data" --addr "127.0.0.1:$PORT" \
	--demo-password "$PASSWORD" --trust-proxy >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
	curl -fsS -o /dev/null "$base/healthz" 2>/dev/null && break
	kill -0 "$pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
	sleep 0.2
done
curl -fsS -o /dev/null "$base/healthz" || { echo "loadtest.sh: server did not start" >&2; cat "$work/server.log" >&2; exit 1; }

login() {
	curl -fsS -H 'Content-Type: application/json' \
		-d "{\"username\":\"$1\",\"password\":\"$PASSWORD\"}" "$base/api/v1/login" | jq -r .token
}
village=$(login 220102001001)
id=$(curl -fsS -H "Authorization: Bearer $village" -H 'Content-Type: application/json' \
	--data-binary @examples/applicant.json "$base/api/v1/cards" | jq -r .id)
for u in 220102001001 220102001 220102; do
	# Sealing asks for the password again (the console's step-up).
	curl -fsS -o /dev/null -H "Authorization: Bearer $(login "$u")" -H 'Content-Type: application/json' \
		-d "{\"password\":\"$PASSWORD\"}" "$base/api/v1/cards/$id/seal"
done
url=$(curl -fsS -H "Authorization: Bearer $village" "$base/api/v1/cards/$id" | jq -r .verification_url)
tok=${url##*/}
status=$(curl -fsS "$base/api/v1/verify/$tok" | jq -r .status)
if [ "$status" != valid ]; then
	echo "loadtest.sh: the sealed card answers $status, not valid" >&2
	exit 1
fi
if [ -z "${TRIVIAL:-}" ]; then
	TRIVIAL=/healthz
	if curl -fsS -o /dev/null "$base/api/v1/ping" 2>/dev/null; then TRIVIAL=/api/v1/ping; fi
fi

cat >"$work/wrk.lua" <<'EOF'
-- One of 16384 client addresses per request (X-Forwarded-For), so the
-- per-IP limit of the public endpoints applies as for many phones.
local n = 0
local off = 0
function init(args) off = math.random(0, 16383) end
function request()
	n = n + 1
	local i = (n + off) % 16384
	wrk.headers["X-Forwarded-For"] = string.format("198.18.%d.%d", math.floor(i / 256), i % 256)
	return wrk.format(nil)
end
function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("RESULT %.1f %.3f %d %d\n",
		summary.requests / (summary.duration / 1e6), latency:percentile(99) / 1000,
		e.connect + e.read + e.write + e.timeout, e.status))
end
EOF

rss() { ps -o rss= -p "$pid" | tr -d ' '; }
run() { # path seconds → "req/s p99ms socket-errors status-errors"
	timeout $(($2 + 30)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${2}s" --timeout 5s -s "$work/wrk.lua" "$base$1" |
		awk '/^RESULT/ { print $2, $3, $4, $5 }'
}

rss0=$(rss)
run "/api/v1/verify/$tok" "$WARMUP" >/dev/null
run "$TRIVIAL" "$WARMUP" >/dev/null
rss1=$(rss)
read -r vrps vp99 verr vstat < <(run "/api/v1/verify/$tok" "$DURATION")
rss2=$(rss)
read -r trps tp99 terr tstat < <(run "$TRIVIAL" "$DURATION")
rss3=$(rss)
read -r vrps2 vp992 verr2 vstat2 < <(run "/api/v1/verify/$tok" "$DURATION")
rss4=$(rss)

ratio=$(awk -v a="$vrps" -v b="$vrps2" -v t="$trps" 'BEGIN { printf "%.2f", (a + b) / 2 / t }')
printf 'machine: %s cores, %s\n' "$(nproc)" "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
printf 'wrk: %d threads, %d connections, %d s per run (after %d s warm-up of each path)\n' "$THREADS" "$CONNECTIONS" "$DURATION" "$WARMUP"
printf '%-28s %10s %9s %7s %8s\n' path 'req/s' 'p99 ms' errors non-2xx
printf '%-28s %10s %9s %7s %8s\n' "verify/{token} (run 1)" "$vrps" "$vp99" "$verr" "$vstat"
printf '%-28s %10s %9s %7s %8s\n' "$TRIVIAL" "$trps" "$tp99" "$terr" "$tstat"
printf '%-28s %10s %9s %7s %8s\n' "verify/{token} (run 2)" "$vrps2" "$vp992" "$verr2" "$vstat2"
printf 'ratio verify / %s: %s (target >= 0.5)\n' "$TRIVIAL" "$ratio"
printf 'server RSS KiB: start %s, after warm-up %s, after verify %s, after %s %s, after verify again %s\n' \
	"$rss0" "$rss1" "$rss2" "$TRIVIAL" "$rss3" "$rss4"
fail=0
awk -v r="$ratio" 'BEGIN { exit !(r >= 0.5) }' || fail=1
for p in "$vp99" "$vp992"; do awk -v p="$p" 'BEGIN { exit !(p < 20) }' || fail=1; done
[ "$((verr + vstat + verr2 + vstat2 + terr + tstat))" -eq 0 ] || fail=1
if [ "$fail" -ne 0 ]; then echo "loadtest.sh: a target was missed" >&2; fi
exit "$fail"
