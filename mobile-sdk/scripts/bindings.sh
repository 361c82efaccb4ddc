#!/usr/bin/env bash
# Builds the library apps link (fieldsync-ffi: libfieldsync_ffi.so / .a) and
# generates its Kotlin, Swift and Python bindings into
# target/bindings/{kotlin,swift,python}. Generated code is never committed:
# it must always match the library it was generated from.
#
# Usage: mobile-sdk/scripts/bindings.sh [--release]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

profile=debug
build_args=()
case "${1:-}" in
    "") ;;
    --release)
        profile=release
        build_args=(--release)
        ;;
    *)
        echo "usage: $0 [--release]" >&2
        exit 2
        ;;
esac

cargo build -p fieldsync-ffi "${build_args[@]}"

target="${CARGO_TARGET_DIR:-$root/target}"
library="$target/$profile/libfieldsync_ffi.so"
bindgen="$target/$profile/uniffi-bindgen"
out="$target/bindings"

# Old output could hold files of types or modules that no longer exist.
rm -rf "$out/kotlin" "$out/swift" "$out/python"
for language in kotlin swift python; do
    "$bindgen" generate --library "$library" --language "$language" \
        --out-dir "$out/$language" --no-format >/dev/null
done
# The generated Python module loads libfieldsync_ffi.so from its own directory.
cp "$library" "$out/python/"

echo "bindings for $library:"
echo "  kotlin: $out/kotlin   (package org.fieldsync.sdk; needs JNA and kotlinx-coroutines)"
echo "  swift:  $out/swift    (module FieldsyncSDK; link libfieldsync_ffi.a for iOS)"
echo "  python: $out/python   (module fieldsync_sdk, with the library beside it)"
