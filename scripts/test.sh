#!/usr/bin/env bash
# Runs cardseal's tests on a fresh machine: installs the Debian packages the
# tests drive (poppler, zbar, qpdf, chromium, a CJK font) when they are missing,
# then runs go test over every package. Extra arguments go to go test.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v pdftotext >/dev/null || need+=(poppler-utils)
command -v zbarimg >/dev/null || need+=(zbar-tools)
command -v qpdf >/dev/null || need+=(qpdf)
command -v chromium >/dev/null || need+=(chromium)
# A CJK font, so that the browser tests measure (and the screenshots show)
# real Chinese glyphs: the layout checks (no wrapped labels, nothing wider
# than the viewport) depend on their widths.
dpkg -s fonts-wqy-microhei >/dev/null 2>&1 || need+=(fonts-wqy-microhei)
if [ ${#need[@]} -gt 0 ]; then
  echo "test.sh: installing ${need[*]}" >&2
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ -z "${CARDSEAL_TEST_POSTGRES:-}" ]; then
  echo "test.sh: CARDSEAL_TEST_POSTGRES is not set: PostgreSQL tests will be skipped (set it to a postgres:// URL to run them)" >&2
fi

exec go test -count=1 -timeout 20m "$@" ./...
