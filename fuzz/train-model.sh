#!/usr/bin/env bash
# fuzz/train-model.sh OUT_DIR: trains the NLP classifier's model from the corpus (and train2.tsv to train4.tsv) with
# nlp/train/nlp_train.c, as the CMake build does, and writes OUT_DIR/nlp_model_data.c for the
# fuzz targets that link nlp/ (run-nlp.sh, run-http.sh), which build without CMake.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$1
cc="${CLANG:-clang}"
mkdir -p "$out"
train_src=()
for f in "$root"/nlp/*.c; do
	case "$f" in */nlp_parse.c|*/nlp_classify.c) ;; *) train_src+=("$f") ;; esac
done
"$cc" -std=c11 -D_GNU_SOURCE -O1 -I"$root/nlp" -I"$root/common" \
	-DCCGW_LEXICON_DIR="\"$root/nlp/lexicon\"" "$root/nlp/train/nlp_train.c" "${train_src[@]}" \
	"$root/common/utf8.c" $(pkg-config --cflags --libs libutf8proc) -lm -o "$out/nlp_train"
"$out/nlp_train" "$root/tests/data/nlp/corpus.tsv" "$root/tests/data/nlp/train2.tsv" \
	"$root/tests/data/nlp/train3.tsv" "$root/tests/data/nlp/train4.tsv" "$out/nlp_model_data.c"
