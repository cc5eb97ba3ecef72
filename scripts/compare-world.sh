#!/usr/bin/env bash
# The comparison in the README: every method, five seeds, three iterations of 100 prompts (PROMPTS=500 for the
# demo's budget), the 500 held-out queries;
# each family's beta and OSP's round size as chosen on the validation split (scripts/tune-world.sh); online methods
# with staleness 1. Writes build-out/compare/world/compare.{html,json} (OUT=DIR elsewhere; further options, e.g.
# --model DIR, pass to steer compare).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
set_args=()
for m in sso sso-no-w sso-no-g pbaa; do set_args+=(--set "$m.objective_params.beta=0.03"); done
for m in osp osp-dpo osp-ipo osp-random; do
  set_args+=(--set "$m.osp.beta=0.3" --set "$m.osp.max_policy_staleness=1" --set "$m.osp.prompts_per_round=32")
done
set_args+=(--set "self-rewarding.self_rewarding.max_policy_staleness=1" --set "self-rewarding.self_rewarding.prompts_per_round=32")
./steer compare --methods sso,sso-no-w,sso-no-g,pbaa,osp,self-rewarding,osp-dpo,osp-ipo,osp-random --seeds 0,1,2,3,4 \
  --iterations 3 --prompts "${PROMPTS:-100}" "${set_args[@]}" --out "${OUT:-build-out/compare/world}" "$@"
