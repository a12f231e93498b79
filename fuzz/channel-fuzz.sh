# fuzz/channel-fuzz.sh: the shared part of fuzz/run-wa.sh and fuzz/run-tg.sh (sourced, not
# run: scripts/test runs fuzz/run-*.sh). A channel adapter's fuzz target fuzz/NAME_fuzz.c is
# built with clang (-fsanitize=fuzzer,address,undefined) straight from the sources of
# channels/ and the parts of commerce/ and common/ they use, and run on a corpus.
# The caller sets root (the checkout) and out (the build folder) first.

# channel_fuzz_build NAME: builds $out/NAME_fuzz.
channel_fuzz_build() {
  clang -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
    -I"$root/channels" -I"$root/commerce" -I"$root/common" \
    "$root/fuzz/$1_fuzz.c" "$root"/channels/*.c "$root/commerce/message.c" \
    "$root/commerce/commerce_util.c" "$root/common/util.c" "$root/common/utf8.c" \
    "$root/common/money.c" "$root/common/jfield.c" \
    $(pkg-config --cflags --libs jansson libcrypto uuid) -lm \
    -o "$out/$1_fuzz"
}

# channel_fuzz_run NAME WHAT SECONDS CORPUS SCRIPT: runs $out/NAME_fuzz on CORPUS for SECONDS
# with fuzz/NAME.dict; on a crash, leak or hang prints the log's end and exits 1 (SCRIPT names
# the caller in the message).
channel_fuzz_run() {
  local name=$1 what=$2 seconds=$3 corpus=$4 script=$5
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
  export LSAN_OPTIONS=suppressions="$root/tests/lsan.supp"
  echo "== fuzzing $what for ${seconds}s" >&2
  "$out/${name}_fuzz" -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=1024 \
    -dict="$root/fuzz/$name.dict" -artifact_prefix="$out/$name-" -print_final_stats=1 \
    "$corpus" 2> "$out/${name}_fuzz.log" || {
    tail -60 "$out/${name}_fuzz.log" >&2
    echo "$script: the fuzzer found a problem (artifact in $out/)" >&2
    exit 1
  }
  grep -E '^stat::number_of_executed_(runs|units)|^#[0-9]+.*DONE' "$out/${name}_fuzz.log" >&2 ||
    true
}
