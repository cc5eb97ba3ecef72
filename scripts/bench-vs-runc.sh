#!/usr/bin/env bash
# stories260K against llama2.c's run.c, as the README's generation section measures it: ROUNDS rounds (default 5),
# each running run.c three times (one thread, greedy, 256 steps) and then `./steer bench generate` on the
# converted model with both engines, 1 and 64 streams, on the default parts (one per core), and the vector engine
# at 64 streams on one thread (-Dsteer.generation.parts=1, as run.c runs). RUNC names a run.c binary built from karpathy/llama2.c
# (gcc -Ofast -march=native run.c -lm -o run); the model is converted to build-out/s260k first if missing.
# Prints each round's run.c figures, the bench's median lines, and the vector engine's 64-stream medians over
# the round's run.c median. STEER_JAVA_OPTS is passed through (e.g. -Dsteer.generation.vector.group=64 to
# measure without groups).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${RUNC:?set RUNC to a run.c binary built from karpathy/llama2.c}"
models=../shared/models/stories260K
[ -d build-out/s260k ] || ./steer convert-llama2c --model "$models/stories260K.bin" --tokenizer "$models/tok512.bin" \
  --out build-out/s260k
for round in $(seq 1 "${ROUNDS:-5}"); do
  runc=()
  for _ in 1 2 3; do
    runc+=("$("$RUNC" "$models/stories260K.bin" -z "$models/tok512.bin" -t 0 -n 256 2>&1 | sed -n 's/.*achieved tok\/s: \([0-9.]*\).*/\1/p')")
  done
  bench=$(./steer bench generate --model build-out/s260k --streams 1,64 --repeats 5 --prefill-samples 0 \
    --engines djl,vector 2>&1 | grep -i "median\|tokens/s" || true)
  one=$(STEER_JAVA_OPTS="${STEER_JAVA_OPTS:-} -Dsteer.generation.parts=1" ./steer bench generate \
    --model build-out/s260k --streams 64 --repeats 5 --prefill-samples 0 --engines vector 2>&1 | grep median || true)
  echo "round $round: run.c tokens/s ${runc[*]}"
  echo "$bench" | sed 's/^/  /'
  echo "$one" | sed 's/^/  one thread: /'
  runc_median=$(printf '%s\n' "${runc[@]}" | sort -g | sed -n 2p)
  vector64=$(echo "$bench" | sed -n 's/^vector streams *64: median *\([0-9,]*\) tokens.*/\1/p' | tr -d ,)
  one64=$(echo "$one" | sed -n 's/^streams *64: median *\([0-9,]*\) tokens.*/\1/p' | tr -d ,)
  [ -n "$vector64" ] && [ -n "$one64" ] && awk -v v="$vector64" -v o="$one64" -v r="$runc_median" \
    'BEGIN { printf "  vector 64 streams / run.c median: %.2fx (one thread: %.2fx)\n", v / r, o / r }'
done
