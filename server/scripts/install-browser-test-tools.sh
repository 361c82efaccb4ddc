#!/usr/bin/env bash
# Installs what the dashboard's browser tests (tests/it/browser.rs) need and a
# fresh Debian machine lacks: Debian's Chromium and a Chinese font, poppler's
# pdftotext and pdftoppm (the printed reports are read back and pictured),
# and playwright-core from npm
# (which drives it; it never downloads a browser of its own) under
# target/tools/browser. Idempotent: when both are there it does nothing else.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
tools="$root/target/tools/browser"

# The playwright-core the tests were verified with.
PLAYWRIGHT_VERSION="1.65.1"

if [ ! -x /usr/bin/chromium ]; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -yq chromium
fi
# Chinese glyphs, so the screenshots show the pages as offices see them.
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -yq fonts-wqy-microhei
fi
if ! command -v pdftotext >/dev/null || ! command -v pdftoppm >/dev/null; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -yq poppler-utils
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -yq nodejs npm
fi

installed="$tools/node_modules/playwright-core/package.json"
if [ ! -f "$installed" ] || ! grep -q "\"version\": \"$PLAYWRIGHT_VERSION\"" "$installed"; then
    mkdir -p "$tools"
    npm install --prefix "$tools" --no-audit --no-fund --silent "playwright-core@$PLAYWRIGHT_VERSION"
fi
echo "browser test tools: $(/usr/bin/chromium --version 2>/dev/null | head -1), playwright-core $PLAYWRIGHT_VERSION in $tools"
