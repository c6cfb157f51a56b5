#!/usr/bin/env bash
# Refresh the dashboard's copy of Chart.js from the npm registry: a pinned version, checked against
# its SHA-256, with its licence. The dashboard serves it itself (no CDN: the pages work offline).
set -euo pipefail
VERSION=4.6.1
SHA256=87364cc2b2a76a6684929e7d6b80b18a897794db38400caff1fcf1791c6925d2
DEST="$(dirname "$0")/../app/dashboard/static/vendor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "chart.js@$VERSION" >/dev/null && tar xzf "chart.js-$VERSION.tgz")
echo "$SHA256  $work/package/dist/chart.umd.min.js" | sha256sum -c --quiet
cp "$work/package/dist/chart.umd.min.js" "$DEST/chart.umd.min.js"
cp "$work/package/LICENSE.md" "$DEST/chart.js-LICENSE.md"
echo "Chart.js $VERSION in $DEST"
