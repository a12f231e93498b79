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

clang -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
  -I"$root/channels" -I"$root/commerce" -I"$root/common" \
  "$root/fuzz/tg_fuzz.c" "$root"/channels/*.c "$root/commerce/message.c" \
  "$root/commerce/commerce_util.c" "$root/common/util.c" "$root/common/utf8.c" \
  "$root/common/money.c" "$root/common/jfield.c" \
  $(pkg-config --cflags --libs jansson libcrypto uuid) -lm \
  -o "$out/tg_fuzz"

mkdir -p "$work/corpus"
cp "$root"/tests/data/telegram/*.json "$work/corpus/"
# the seeds share the payload files' names: kept apart by a prefix
for f in "$root"/fuzz/tg-seeds/*; do cp "$f" "$work/corpus/seed-${f##*/}"; done
# normalized replies (no platform's), for the renderer
cp "$root"/fuzz/wa-seeds/reply_*.json "$work/corpus/"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export LSAN_OPTIONS=suppressions="$root/tests/lsan.supp"
echo "== fuzzing the Telegram adapter for ${seconds}s" >&2
"$out/tg_fuzz" -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=1024 \
  -dict="$root/fuzz/tg.dict" -artifact_prefix="$out/tg-" -print_final_stats=1 \
  "$work/corpus" 2> "$out/tg_fuzz.log" || {
  tail -60 "$out/tg_fuzz.log" >&2
  echo "fuzz/run-tg.sh: the fuzzer found a problem (artifact in $out/)" >&2
  exit 1
}
grep -E '^stat::number_of_executed_(runs|units)|^#[0-9]+.*DONE' "$out/tg_fuzz.log" >&2 || true
