#!/bin/sh
# Starts one Steer service (the packaged Quarkus app under $STEER_APP_DIR). Configuration comes from environment
# variables (STEER_<SERVICE>_..., QUARKUS_..., KAFKA_...), which Quarkus maps onto its keys.
#
# Fixed flags: DJL never downloads (its natives are in the image, unpacked at build time into $ENGINE_CACHE_DIR);
# -Xss4m as ./steer and the tests run the services.
# STEER_TORCH_THREADS: PyTorch intra-op threads (default 1, as ./steer: small models are bound by per-op overhead).
# JAVA_OPTS: anything else for the JVM (heap, GC, extra -D flags).
set -eu
# MKL (inside libtorch_cpu) in strict reproducibility mode: results independent of memory alignment, so a restarted
# pod computes the same bits as the one before it
export MKL_CBWR="${MKL_CBWR:-AUTO,STRICT}"
exec java -Xss4m \
  -Dai.djl.offline=true \
  -Dai.djl.pytorch.num_threads="${STEER_TORCH_THREADS:-1}" \
  ${JAVA_OPTS:-} \
  -jar "${STEER_APP_DIR:-/opt/steer/app}/quarkus-run.jar" "$@"
