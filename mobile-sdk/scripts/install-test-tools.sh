#!/usr/bin/env bash
# Installs what the binding tests (mobile-sdk/ffi/tests/bindings.rs) need
# and a fresh Debian machine lacks: a JDK, JNA, and kotlinc. Idempotent: every
# step checks first, so a machine that has everything is left untouched.
# Python needs nothing beyond python3 (the bindings use ctypes); Swift is only
# generated, never compiled, so no Swift toolchain is needed.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"

# The kotlinc the tests were verified with; the tests look for it exactly here.
KOTLIN_VERSION="2.4.20"
tools="$root/target/tools"
kotlinc="$tools/node_modules/kotlin-compiler/bin/kotlinc"

apt_updated=0
apt_install() {
    if [ "$apt_updated" = 0 ]; then
        apt-get update -q
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -yq "$@"
}

if ! command -v java >/dev/null || ! command -v javac >/dev/null; then
    apt_install default-jdk-headless
fi

if [ ! -f /usr/share/java/jna.jar ]; then
    apt_install libjna-java
fi

if ! command -v python3 >/dev/null; then
    apt_install python3
fi

installed_version() {
    sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' \
        "$tools/node_modules/kotlin-compiler/package.json" 2>/dev/null | head -1
}

if [ -n "${KOTLINC:-}" ]; then
    echo "KOTLINC is set ($KOTLINC); not installing kotlinc"
elif [ ! -x "$kotlinc" ] || [ "$(installed_version)" != "$KOTLIN_VERSION" ]; then
    if ! command -v npm >/dev/null; then
        apt_install npm
    fi
    mkdir -p "$tools"
    npm install --prefix "$tools" --no-audit --no-fund --no-save \
        "kotlin-compiler@$KOTLIN_VERSION"
fi

echo "binding test tools:"
java -version 2>&1 | head -1 | sed 's/^/  /'
echo "  jna: /usr/share/java/jna.jar"
echo "  kotlinc: ${KOTLINC:-$kotlinc}"
echo "  $(python3 --version)"
