#!/usr/bin/env bash
# The GPU check (issue 13): on a machine with a CUDA device, builds Steer with PyTorch's CUDA 12.4 natives (Maven
# Central's ai.djl.pytorch:pytorch-native-cu124, the jar the GPU images use), then on random weights of
# Qwen2.5-0.5B-Instruct's shape with the shared Qwen tokenizer, in bfloat16:
#   1. the generator benchmark (1 and 64 streams, 64 new tokens, and the 7-sample shared prefill),
#   2. one LoRA (rank 16, all seven targets) DPO step on 4 pairs x 256 tokens, then one full fine-tuning step
#      (float32 master weights and AdamW moments, bfloat16 forward),
# and prints tokens/s, step time, peak resident memory and device memory. Until this has run on a GPU, the GPU
# path (device gpu, bf16) is untested: this project's machines have none.
#   scripts/gpu-check.sh [gpu:N]    (default gpu:0; needs network access to Maven Central for the first build)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
device="${1:-gpu:0}"
tokenizer="${STEER_QWEN_TOKENIZER:-../shared/models/qwen3-tokenizer}"

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu-check: no CUDA device here (nvidia-smi finds none); nothing was run, the GPU path stays untested" >&2
  exit 2
fi
[ -f "$tokenizer/tokenizer.json" ] || { echo "gpu-check: no tokenizer.json in $tokenizer (set STEER_QWEN_TOKENIZER)" >&2; exit 2; }
nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv

echo "== building with the CUDA natives (./mvnw -DskipTests -Dpytorch.native.artifact=pytorch-native-cu124 package)"
rm -f steer-cli/target/lib/pytorch-native-*.jar   # one native jar on the class path, or DJL may pick the CPU one
./mvnw -B -q -DskipTests -Dpytorch.native.artifact=pytorch-native-cu124 package
ls steer-cli/target/lib/ | grep -q 'pytorch-native-cu124' \
  || { echo "gpu-check: the build has no pytorch-native-cu124 jar in steer-cli/target/lib" >&2; exit 1; }
touch steer-cli/target/steer-cli.jar   # ./steer must not rebuild with the CPU natives

out=build-out/gpu-check
mkdir -p "$out"
# Qwen2.5-0.5B-Instruct's published config.json (also in ../shared/models/qwen3-tokenizer/README.md)
cat > "$out/config.json" <<'JSON'
{
  "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
  "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
  "num_attention_heads": 14, "num_key_value_heads": 2, "hidden_act": "silu",
  "max_position_embeddings": 32768, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
  "sliding_window": 32768, "use_sliding_window": false, "max_window_layers": 21,
  "tie_word_embeddings": true, "vocab_size": 151936,
  "bos_token_id": 151643, "eos_token_id": 151645, "torch_dtype": "bfloat16"
}
JSON

watch_memory() {   # the device's peak memory.used over the command, sampled every 0.5 s
  local log="$1"; shift
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 500 > "$log" &
  local sampler=$!
  set +e; "$@"; local rc=$?; set -e
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
  echo "   device memory peak (nvidia-smi, whole device): $(sort -n "$log" | tail -1) MiB"
  return $rc
}

echo "== 1. generation: ./steer bench generate --config $out/config.json --tokenizer $tokenizer --device $device --precision bf16"
watch_memory "$out/generate-memory.log" ./steer bench generate --config "$out/config.json" --tokenizer "$tokenizer" \
  --device "$device" --precision bf16 --streams 1,64 --new-tokens 64 --repeats 3 --prefill-samples 7

echo "== 2. one LoRA step and one full fine-tuning step: ./steer bench train --objective dpo --device $device --precision bf16"
watch_memory "$out/train-memory.log" ./steer bench train --objective dpo --config "$out/config.json" --batch 4 --seq-len 256 \
  --steps 1 --warmup 1 --lora-rank 16 --lora-alpha 32 --lora-targets q,k,v,o,gate,up,down --full-too \
  --device "$device" --precision bf16

echo "gpu-check: done; put these figures in the README's GPU section, with the GPU's name"
echo "gpu-check: this build now holds the CUDA natives; './mvnw clean package' goes back to the CPU build"
