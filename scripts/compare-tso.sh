#!/usr/bin/env bash
# TSO and its ablations on the budget of scripts/compare-world.sh: five seeds, three iterations of 100 prompts
# (PROMPTS=500 for the demo's budget), the 500 held-out queries, TSO's beta as chosen on the validation split
# (scripts/tune-world.sh, TSO_ONLY=1) for all five. Writes build-out/compare/tso/compare.{html,json} (OUT=DIR
# elsewhere; further options pass to steer compare).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
beta="${BETA:-0.3}"
set_args=()
for m in tso tso-dpo tso-no-mini-batch tso-matrix-only tso-self-only; do set_args+=(--set "$m.tso.beta=$beta"); done
./steer compare --methods tso,tso-dpo,tso-no-mini-batch,tso-matrix-only,tso-self-only --seeds 0,1,2,3,4 \
  --iterations 3 --prompts "${PROMPTS:-100}" "${set_args[@]}" --out "${OUT:-build-out/compare/tso}" "$@"
