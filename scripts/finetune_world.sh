#!/usr/bin/env bash
# Grows a trained `tiny` bundle into `tiny_world` (11 layout channels: the road drawn from the road
# network -- drivable area, solid and dashed lane lines, edges, lane direction) and fine-tunes it on the
# `world` mix of synth-data (bends, two-way roads with oncoming traffic, junctions, straight roads):
# image stage first, then video and interpolation side by side (one CPU thread each), then the upsampler
# in its own bundle, merged at the end. Resumable: rerun after an interruption (finished steps are skipped).
#
#   bash scripts/finetune_world.sh BASE_BUNDLE OUT_BUNDLE [DATA_DIR]
#   bash scripts/finetune_world.sh checkpoints/default checkpoints/world data/world
set -euo pipefail
BASE=${1:?base bundle (a trained tiny bundle)}
OUT=${2:?output bundle folder}
DATA=${3:-data/world}
THREADS=${THREADS:-1}
IMG_STEPS=${IMG_STEPS:-6000}
VID_STEPS=${VID_STEPS:-300}
INT_STEPS=${INT_STEPS:-300}
UPS_STEPS=${UPS_STEPS:-2000}
UPT_STEPS=${UPT_STEPS:-200}
FG=${FG_WEIGHT:-2}

drivesim synth-data -o "$DATA" --clips 160 --frames 48 --size 256x512 --fps 10 --seed 0 --workers 1 --mix world -q

step() {  # step RUN COMMAND...: run once; a marker in OUT/.train says it finished (reruns skip it)
  local run=$1; shift
  local marker="$OUT/.train/finetune-$run.done"
  if [ -f "$marker" ]; then echo "== $run: done, skipped"; return; fi
  local resume=""
  [ -d "$OUT/.train/$run" ] && resume="--resume"
  echo "== $run $(date +%T)"
  "$@" $resume && touch "$marker"
}

step image drivesim train image --data "$DATA" --config tiny_world --init-from "$BASE" --out "$OUT" \
    --steps "$IMG_STEPS" --batch 16 --lr 2e-4 --set fg_weight="$FG" --set p_null=0.1 --threads "$THREADS" \
    --save-every 250 --preview-every 1000 -q
step video drivesim train video --data "$DATA" --out "$OUT" --steps "$VID_STEPS" --batch 4 --set fg_weight="$FG" \
    --set p_null=0.1 --threads "$THREADS" --save-every 50 --preview-every 0 -q &
VID=$!
step interpolation drivesim train interpolation --data "$DATA" --out "$OUT" --steps "$INT_STEPS" --batch 8 \
    --set fg_weight="$FG" --set p_null=0.1 --threads "$THREADS" --save-every 50 --preview-every 0 -q
wait $VID
step upsampler drivesim train upsampler --phase spatial --data "$DATA" --config tiny_world --init-from "$BASE" \
    --out "$OUT.upsampler" --steps "$UPS_STEPS" --batch 8 --threads "$THREADS" --save-every 250 --preview-every 500 -q
step upsampler-temporal drivesim train upsampler --phase temporal --data "$DATA" --out "$OUT.upsampler" \
    --steps "$UPT_STEPS" --batch 8 --threads "$THREADS" --save-every 50 --preview-every 100 -q
drivesim bundle merge "$OUT" --from "$OUT.upsampler" --part upsampler
drivesim bundle set "$OUT" upsampler_diffusion.num_inference_steps="${SR_STEPS:-2}" \
    diffusion.guidance_scale="${GUIDANCE:-2.0}"
