#!/usr/bin/env bash
# Runs every fuzz target of cardseal for the given time each (default 30 s),
# one after another: the PDF reader, the seal CMS parser, the signer's
# reading of existing seals, the verifier entry, the QR token decoder, the
# applicant JSON and the card text wrapper. A crasher is written by go test
# under the package's testdata/fuzz/<Target>/ and fails the run; commit it
# with a fix, as a regression input. Minimisation of a new input is capped
# at 20 runs, not a time: the verifier's inputs are whole sealed cards
# (~160 KB), and a time cap kills the worker mid-run, which then pays the
# fixture's set-up (keystore, three seals) again.
#
#   scripts/fuzz.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-30}"
case "$secs" in
  ''|*[!0-9]*) echo "error: seconds must be a whole number, got \"$secs\"" >&2
               echo "hint: scripts/fuzz.sh 60" >&2; exit 2 ;;
esac

targets=(
  "./pdf FuzzParse"
  "./seal FuzzParse"
  "./signer FuzzExisting"
  "./verifier FuzzVerify"
  "./token FuzzDecode"
  "./card FuzzApplicant"
  "./templates FuzzWrap"
)

failed=()
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  echo "fuzz: $pkg $name for ${secs}s" >&2
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "${secs}s" -fuzzminimizetime 20x "$pkg"; then
    failed+=("$pkg $name")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "error: fuzzing found failures in: ${failed[*]}" >&2
  echo "hint: the failing inputs are under each package's testdata/fuzz/; rerun one with go test -run '<Target>/<file>' <pkg>" >&2
  exit 1
fi
echo "fuzz: ok" >&2
