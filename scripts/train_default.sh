#!/usr/bin/env bash
# Reproduces checkpoints/default: procedural data, then the six training stages of the
# `tiny` config on a 2-core CPU. Each stage is resumable: rerun this script after an
# interruption and it continues where it stopped (stages already recorded in
# BUNDLE/stages.json are skipped).
#
#   bash scripts/train_default.sh [DATA_DIR] [BUNDLE_DIR]
#
# Two lanes run side by side, one CPU core each: the latent stages (autoencoder -> image ->
# decoder -> video -> interpolation) in BUNDLE, and the pixel-space upsampler (independent of
# the latent stages) in BUNDLE.upsampler, whose part is copied into BUNDLE at the end.
set -euo pipefail
DATA=${1:-data/synth}
OUT=${2:-checkpoints/default}
THREADS=${THREADS:-1}  # 1 per lane: oversubscribed threads on 2 cores are many times slower

drivesim synth-data -o "$DATA" --clips 160 --frames 48 --size 256x512 --fps 10 --seed 0 --workers 1 -q

source "$(dirname "$0")/stage_done.sh"

run() {  # run BUNDLE RUN_NAME STAGE PHASE ARGS...: train, resuming a saved state when there is one
  local OUT=$1 label=$2 stage=$3 phase=${4:-}; shift 4
  if stage_done "$OUT" "$stage" $phase; then echo "== $label: done, skipped"; return; fi
  local resume=""
  [ -d "$OUT/.train/$label" ] && resume="--resume"
  echo "== $label $(date +%T)"
  drivesim train "$stage" ${phase:+--phase $phase} "$@" --data "$DATA" --config tiny --out "$OUT" --threads "$THREADS" \
      --save-every 50 --preview-every 100 -q $resume
}

upsampler_lane() {
  run "$OUT.upsampler" upsampler upsampler spatial --steps ${UPS_STEPS:-6000} --batch 8
  run "$OUT.upsampler" upsampler-temporal upsampler temporal --steps ${UPT_STEPS:-400} --batch 8
}
upsampler_lane > "$OUT.upsampler.log" 2>&1 &
UPS_PID=$!

run "$OUT" autoencoder autoencoder "" --steps ${AE_STEPS:-1800} --batch 8 --set gan_start=1600
# The latent stages below read every frame's latents from BUNDLE/.train/latents (encoded once).
run "$OUT" image image "" --steps ${IMG_STEPS:-10000} --batch 16
run "$OUT" decoder decoder "" --steps ${DEC_STEPS:-900} --batch 2
run "$OUT" video video "" --steps ${VID_STEPS:-600} --batch 4
run "$OUT" interpolation interpolation "" --steps ${INT_STEPS:-600} --batch 8

wait $UPS_PID
cat "$OUT.upsampler.log"
# The upsampler works in pixel space: its weights (and its config section) do not depend on the
# latent stages. Its part, config section and stages.json entry go into BUNDLE; rerunning is harmless.
drivesim bundle merge "$OUT" --from "$OUT.upsampler" --part upsampler
# Sampling defaults chosen from `drivesim eval` (checkpoints/default/README.md).
drivesim bundle set "$OUT" upsampler_diffusion.num_inference_steps="${SR_STEPS:-2}" \
    diffusion.guidance_scale="${GUIDANCE:-1.0}"
drivesim info "$OUT"
