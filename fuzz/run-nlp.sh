#!/usr/bin/env bash
# run-nlp.sh: builds the NLP libFuzzer target with clang (AddressSanitizer and
# UndefinedBehaviorSanitizer) straight from the sources, then fuzzes for SECONDS (default 30).
# Exits non-zero when the fuzzer finds a crash, a leak or undefined behaviour.
# Usage: bash fuzz/run-nlp.sh [SECONDS]
set -euo pipefail

secs="${1:-30}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${CCGW_FUZZ_DIR:-$root/build-fuzz/nlp}"
cc="${CLANG:-clang}"

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "run-nlp.sh: $cc not found (apt-get install clang libclang-rt-14-dev)" >&2
	exit 2
fi
mkdir -p "$out/corpus"

# seeds: the labelled corpus, one message per file
if [ -z "$(ls -A "$out/corpus")" ]; then
	n=0
	while IFS=$'\t' read -r text _; do
		case "$text" in "# "*|"") continue ;; esac
		printf '%s' "$text" >"$out/corpus/seed$n"
		n=$((n + 1))
	done <"$root/tests/data/nlp/corpus.tsv"
fi

# the classifier's model, trained from the corpus as the build does
bash "$root/fuzz/train-model.sh" "$out"

"$cc" -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer \
	-DCCGW_LEXICON_DIR="\"$root/nlp/lexicon\"" -I"$root/nlp" -I"$root/common" \
	"$root"/nlp/*.c "$out/nlp_model_data.c" "$root/common/utf8.c" "$root/fuzz/nlp_fuzz.c" \
	$(pkg-config --cflags --libs libutf8proc) -lm -o "$out/nlp_fuzz"

cd "$out"
exec ./nlp_fuzz -max_total_time="$secs" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 corpus
