#!/usr/bin/env bash
# Builds the shipped binary: release, the Swift runtime linked statically (no toolchain needed where
# it runs), stripped, with the git commit written in (`tugboat --version`). Writes dist/tugboat and
# prints its size and the shared libraries it still needs (the .deb's Depends come from them).
set -euo pipefail
cd "$(dirname "$0")/.."

commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || commit="$commit-dirty"
printf '#define TUGBOAT_COMMIT "%s"\n' "$commit" > Sources/CBuildInfo/commit.inc
touch Sources/CBuildInfo/BuildInfo.c   # a new include file is not in the build's dependency list

started=$(date +%s)
swift build -c release --static-swift-stdlib --product tugboat
echo "packaging: release build took $(( $(date +%s) - started )) s"

mkdir -p dist
cp "$(swift build -c release --static-swift-stdlib --show-bin-path)/tugboat" dist/tugboat
strip dist/tugboat
echo "packaging: dist/tugboat $(du -h dist/tugboat | cut -f1) ($(stat -c %s dist/tugboat) bytes), $(dist/tugboat --version)"
echo "packaging: shared libraries:"
ldd dist/tugboat | sed 's/^/  /'
