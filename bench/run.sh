#!/bin/sh
# Reproduces the quality, speed and translation tables of docs/benchmarks.md, in one run:
#     sh bench/run.sh [OUT]        (from the repository root, venv active)
# Uses its own home folder under OUT (embedded base model, default settings) and a second one
# with greedy decoding for the engine speed comparison. Evaluation data: TESTIMONY_EVALDATA or
# ../shared/evaldata.
set -eu
EVAL=$(cd "${TESTIMONY_EVALDATA:-../shared/evaldata}" && pwd)
OUT=$(mkdir -p "${1:-bench-out}" && cd "${1:-bench-out}" && pwd)
ROOT=$(pwd)
export TESTIMONY_HOME="$OUT/home"
mkdir -p "$TESTIMONY_HOME" "$OUT/speed-home"
printf '[asr]\ntemperature_fallback = false\n' > "$OUT/speed-home/testimony.toml"
testimony models prepare

# Quality: default settings, each engine, against bare whisper.transcribe() in the same run.
testimony bench asr "$EVAL/ru/references.tsv" -l ru --baseline --json "$OUT/ru-openai.json"
testimony bench asr "$EVAL/ru/references.tsv" -l ru --engine faster-whisper --json "$OUT/ru-faster.json"
testimony bench asr "$EVAL/kk/references.tsv" -l kk --engine faster-whisper --json "$OUT/kk-faster.json"
testimony bench asr "$EVAL/kk/references.tsv" -l kk --baseline --json "$OUT/kk-openai.json"

# Speed: both engines with the same (greedy) settings on the six longest clips and on a
# 10-minute interview assembled from the clips.
python "$ROOT/bench/make_interview.py" "$EVAL/kk" "$OUT/speed"
export TESTIMONY_HOME="$OUT/speed-home"
testimony models prepare
for set in longest interview; do
  for engine in faster-whisper openai-whisper; do
    testimony bench asr "$OUT/speed/$set.tsv" -l kk --engine $engine --json "$OUT/speed-$set-$engine.json"
  done
done

# Translation: scores whatever package is installed; says so and fails when there is none.
export TESTIMONY_HOME="$OUT/home"
for lang in kk ky ru; do
  testimony bench mt "$EVAL/mt/ntrex128_$lang.tsv" -l $lang --json "$OUT/mt-$lang.json" || true
done
python "$ROOT/bench/table.py" "$OUT"/*.json > "$OUT/table.md"
cat "$OUT/table.md"
