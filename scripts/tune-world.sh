#!/usr/bin/env bash
# Chooses each method family's beta, and OSP's round size, on the oracle world's validation split (never the
# held-out set): the last 100 queries of each iteration split are held back from training and evaluated instead.
# Equal budget per family: three values of beta, seeds 0 and 1, one iteration of 200 prompts; online methods run
# with staleness 1, as in scripts/compare-world.sh. Writes build-out/tune/*/compare.{html,json}.
# TSO_ONLY=1 runs TSO's part alone (it was added after the others had been chosen).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
for beta in 0.03 0.1 0.3; do
  ./steer compare --methods tso --seeds 0,1 --iterations 1 --prompts 200 --evaluation-split validation \
    --set tso.tso.beta=$beta --out build-out/tune/tso-beta-$beta
done
if [[ "${TSO_ONLY:-0}" == 1 ]]; then
  exit 0
fi
for beta in 0.03 0.1 0.3; do
  ./steer compare --methods sso,osp,self-rewarding --seeds 0,1 --iterations 1 --prompts 200 --evaluation-split validation \
    --set sso.objective_params.beta=$beta --set osp.osp.beta=$beta --set self-rewarding.self_rewarding.beta=$beta \
    --set osp.osp.max_policy_staleness=1 --set self-rewarding.self_rewarding.max_policy_staleness=1 \
    --out build-out/tune/beta-$beta
done
for round in 16 64; do
  ./steer compare --methods osp --seeds 0,1 --iterations 1 --prompts 200 --evaluation-split validation \
    --set osp.osp.beta=0.3 --set osp.osp.max_policy_staleness=1 --set osp.osp.prompts_per_round=$round \
    --out build-out/tune/round-$round
done
