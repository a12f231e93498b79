#!/usr/bin/env bash
# fuzz/run-http.sh [SECONDS]: builds the HTTP request-handling fuzz target (fuzz/http_fuzz.c
# with the whole gateway, embedded) with clang -fsanitize=fuzzer,address,undefined and runs it
# for SECONDS (default 30), seeded with the requests in fuzz/http-seeds/. Exits non-zero when
# the build fails or the fuzzer finds a crash, leak or hang.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-30}
out="$root/build-fuzz"
mkdir -p "$out/http-obj"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cflags=(-g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer-no-link,address,undefined
  -fno-sanitize-recover=undefined -fno-omit-frame-pointer
  -DCCGW_SQL_DIR="\"$root/sql\"" -DCCGW_VERSION="\"fuzz\""
  -I"$root/common" -I"$root/nlp" -I"$root/commerce" -I"$root/channels"
  $(for d in "$root"/gateway/*/; do printf -- '-I%s ' "${d%/}"; done)
  $(pkg-config --cflags jansson libpq libcurl libwebsockets inih libutf8proc libcrypto uuid vips))
objs=()
for src in "$root"/common/*.c "$root"/nlp/*.c "$root"/commerce/*.c "$root"/channels/*.c \
           "$root"/gateway/*/*.c; do
  [ "$(basename "$src")" = main.c ] && continue
  obj="$out/http-obj/$(basename "$(dirname "$src")")_$(basename "$src" .c).o"
  if [ ! -e "$obj" ] || [ "$src" -nt "$obj" ] || [ "$0" -nt "$obj" ]; then
    clang "${cflags[@]}" -c "$src" -o "$obj" &
    # at most two compilers at once on this 2-core machine
    while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n; done
  fi
  objs+=("$obj")
done
wait
# the NLP classifier's model, trained from the corpus as the build does
bash "$root/fuzz/train-model.sh" "$out"
clang "${cflags[@]}" -fsanitize=fuzzer "$root/fuzz/http_fuzz.c" "${objs[@]}" "$out/nlp_model_data.c" \
  $(pkg-config --libs jansson libpq libcurl libwebsockets inih libutf8proc libcrypto uuid vips) \
  -lev -lpthread -lm -o "$out/http_fuzz"

mkdir -p "$work/corpus"
cp "$root"/fuzz/http-seeds/* "$work/corpus/"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export LSAN_OPTIONS=suppressions="$root/tests/lsan.supp"
echo "== fuzzing the HTTP request handling for ${seconds}s" >&2
(cd "$root" && "$out/http_fuzz" -max_total_time="$seconds" -max_len=20000 -timeout=20 \
  -rss_limit_mb=2048 -dict="$root/fuzz/http.dict" -artifact_prefix="$out/http-" \
  -print_final_stats=1 "$work/corpus" 2> "$out/http_fuzz.log") || {
  tail -60 "$out/http_fuzz.log" >&2
  echo "fuzz/run-http.sh: the fuzzer found a problem (artifact in $out/)" >&2
  exit 1
}
grep -E '^stat::number_of_executed_runs|^#[0-9]+.*DONE' "$out/http_fuzz.log" >&2 || true
