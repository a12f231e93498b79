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

clang -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
  -I"$root/channels" -I"$root/commerce" -I"$root/common" \
  "$root/fuzz/wa_fuzz.c" "$root"/channels/*.c "$root/commerce/message.c" \
  "$root/commerce/commerce_util.c" "$root/common/util.c" "$root/common/utf8.c" \
  "$root/common/money.c" "$root/common/jfield.c" \
  $(pkg-config --cflags --libs jansson libcrypto uuid) -lm \
  -o "$out/wa_fuzz"

mkdir -p "$work/corpus"
cp "$root"/tests/data/whatsapp/*.json "$root"/fuzz/wa-seeds/*.json "$work/corpus/"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export LSAN_OPTIONS=suppressions="$root/tests/lsan.supp"
echo "== fuzzing the WhatsApp webhook parser for ${seconds}s" >&2
"$out/wa_fuzz" -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=1024 \
  -dict="$root/fuzz/wa.dict" -artifact_prefix="$out/wa-" -print_final_stats=1 \
  "$work/corpus" 2> "$out/wa_fuzz.log" || {
  tail -60 "$out/wa_fuzz.log" >&2
  echo "fuzz/run-wa.sh: the fuzzer found a problem (artifact in $out/)" >&2
  exit 1
}
grep -E '^stat::number_of_executed_runs|^#[0-9]+.*DONE' "$out/wa_fuzz.log" >&2 || true
