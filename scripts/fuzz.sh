#!/usr/bin/env bash
# Runs every fuzz target of cardseal for the given time each (default 30 s),
# one after another: the PDF reader and its cross-reference chain, the seal
# CMS parser and its SignedData structure, the signer's reading of existing
# seals, the verifier entry and its signature-dictionary checks, the QR
# token decoder, the applicant JSON, the card text wrapper and the upload
# endpoint. The verifier's targets start from small sealed cards
# (internal/pdftest/sealtest, 13 KB) and run thousands of times a second;
# docs/security.md lists the rates. A crasher is written by go test under
# the package's testdata/fuzz/<Target>/ and fails the run; commit it with a
# fix, as a regression input. Minimisation of a new input is capped at 20
# runs, not a time: a time cap kills the worker mid-run, which then pays
# its fixture's set-up again.
#
#   scripts/fuzz.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-30}"
case "$secs" in
  ''|*[!0-9]*) echo "error: seconds must be a whole number, got \"$secs\"" >&2
               echo "hint: scripts/fuzz.sh 60" >&2; exit 2 ;;
esac

# A third field is a target's minimum time: its fixture (a keystore with
# PBKDF2-encrypted keys, sealed cards, a server) is built in every fuzz
# worker before the baseline, and go test fails the run if the time ends
# before the baseline does.
targets=(
  "./pdf FuzzParse"
  "./pdf FuzzRevisions"
  "./seal FuzzParse"
  "./seal FuzzSignedData"
  "./signer FuzzExisting"
  "./verifier FuzzVerify"
  "./verifier FuzzSigDict"
  "./token FuzzDecode"
  "./card FuzzApplicant"
  "./templates FuzzWrap"
  "./api FuzzUpload 40"
)

failed=()
for t in "${targets[@]}"; do
  read -r pkg name least <<<"$t"
  run=$secs
  if [ -n "${least:-}" ] && [ "$run" -lt "$least" ]; then run=$least; fi
  echo "fuzz: $pkg $name for ${run}s" >&2
  log=$(mktemp)
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "${run}s" -fuzzminimizetime 20x "$pkg" 2>&1 | tee "$log"; then
    # go test ends a run whose deadline falls while a worker minimises a
    # new *interesting* (not failing) input with "context deadline
    # exceeded" and no failing input. A real failure always writes its
    # input ("Failing input written to ..."), so only that fails the run.
    if grep -q 'Failing input written to\|panic:' "$log" || ! grep -q 'context deadline exceeded' "$log"; then
      failed+=("$pkg $name")
    else
      echo "fuzz: $pkg $name: the time ran out while minimising an interesting input (no failing input); not a failure" >&2
    fi
  fi
  rm -f "$log"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "error: fuzzing found failures in: ${failed[*]}" >&2
  echo "hint: the failing inputs are under each package's testdata/fuzz/; rerun one with go test -run '<Target>/<file>' <pkg>" >&2
  exit 1
fi
echo "fuzz: ok" >&2
