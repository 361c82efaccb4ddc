#!/usr/bin/env bash
# Installs the Python peers the tests need beyond Rust, in a virtualenv at
# target/tools/venv so the system's site-packages stay untouched: for the
# photo tests (tests/it/photos.rs) a stock tus client (tuspy) and an
# S3-compatible server (moto); for the report tests (tests/it/reports.rs)
# openpyxl, which opens the XLSX exports; for the contract test
# (tests/it/contract.rs) schemathesis, which tests the server against its
# OpenAPI spec. Idempotent: when all import already it does nothing else
# (well under a second).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$root/target/tools/venv"
python="$venv/bin/python"

# Versions the tests were verified with.
TUSPY_VERSION="1.1.0"
MOTO_VERSION="5.2.5"
OPENPYXL_VERSION="3.1.5"
SCHEMATHESIS_VERSION="4.32.5"

have_tools() {
    [ -x "$python" ] && "$python" - "$TUSPY_VERSION" "$MOTO_VERSION" "$OPENPYXL_VERSION" \
        "$SCHEMATHESIS_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
import tusclient.client, moto.server, openpyxl, schemathesis  # noqa: F401  (all must import)
wanted = tuple(sys.argv[1:])
have = tuple(version(p) for p in ("tuspy", "moto", "openpyxl", "schemathesis"))
sys.exit(0 if have == wanted else 1)
PY
}

if have_tools; then
    echo "photo test tools: present in $venv"
    exit 0
fi

if ! command -v python3 >/dev/null; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -yq python3 python3-venv
fi
if [ ! -x "$python" ]; then
    mkdir -p "$(dirname "$venv")"
    if ! python3 -m venv "$venv"; then
        # Debian splits ensurepip into python3-venv.
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -yq python3-venv
        rm -rf "$venv"
        python3 -m venv "$venv"
    fi
fi
"$python" -m pip install --quiet --disable-pip-version-check \
    "tuspy==$TUSPY_VERSION" "moto[server]==$MOTO_VERSION" "openpyxl==$OPENPYXL_VERSION" \
    "schemathesis==$SCHEMATHESIS_VERSION"
have_tools
echo "photo test tools: installed in $venv"
"$python" -m pip list --disable-pip-version-check 2>/dev/null | grep -Ei '^(tuspy|moto|boto3|openpyxl|schemathesis) '
