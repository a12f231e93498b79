#!/usr/bin/env bash
# fuzz/run-wa.sh [SECONDS]: builds the WhatsApp webhook parser fuzz target with clang
# (-fsanitize=fuzzer,address,undefined) straight from the sources and runs it for SECONDS
# (default 30), seeded with the Cloud API payload files in tests/data/whatsapp/.
# Exits non-zero when the build fails or the fuzzer finds a crash, leak or hang.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-30}
out="$root/build-fuzz"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

. "$root/fuzz/channel-fuzz.sh"
channel_fuzz_build wa

mkdir -p "$work/corpus"
cp "$root"/tests/data/whatsapp/*.json "$root"/fuzz/wa-seeds/*.json "$work/corpus/"
channel_fuzz_run wa "the WhatsApp webhook parser" "$seconds" "$work/corpus" fuzz/run-wa.sh
