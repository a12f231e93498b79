#!/usr/bin/env bash
# fuzz/run-tg.sh [SECONDS]: builds the Telegram adapter fuzz target with clang
# (-fsanitize=fuzzer,address,undefined) straight from the sources and runs it for SECONDS
# (default 30), seeded with the Bot API Update files in tests/data/telegram/, the seeds in
# fuzz/tg-seeds/ and the normalized replies in fuzz/wa-seeds/reply_*.json.
# Exits non-zero when the build fails or the fuzzer finds a crash, leak or hang.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-30}
out="$root/build-fuzz"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

. "$root/fuzz/channel-fuzz.sh"
channel_fuzz_build tg

mkdir -p "$work/corpus"
cp "$root"/tests/data/telegram/*.json "$work/corpus/"
# the seeds share the payload files' names: kept apart by a prefix
for f in "$root"/fuzz/tg-seeds/*; do cp "$f" "$work/corpus/seed-${f##*/}"; done
# normalized replies (no platform's), for the renderer
cp "$root"/fuzz/wa-seeds/reply_*.json "$work/corpus/"
channel_fuzz_run tg "the Telegram adapter" "$seconds" "$work/corpus" fuzz/run-tg.sh
