#!/usr/bin/env bash
# Grows a trained tiny bundle into the current `tiny` config (layout maps at keyframe pixels, the
# layout encoder at every level) and fine-tunes it for visible road users: image stage with the
# joint null (p_null) and box-weighted loss (fg_weight), then the video and interpolation stages
# on top (side by side, one CPU thread each), and the upsampler grown to read the layout maps.
# Resumable: rerun after an interruption (finished steps are skipped).
#
#   bash scripts/finetune_default.sh BASE_BUNDLE OUT_BUNDLE [DATA_DIR]
#
# checkpoints/default/README.md says which base and steps made the shipped default.
set -euo pipefail
BASE=${1:?base bundle (a trained tiny bundle)}
OUT=${2:?output bundle folder}
DATA=${3:-data/synth}
CONFIG=${CONFIG:-tiny}  # scripts/finetune_world.sh: tiny_world
MIX=${MIX:-v1}  # synth-data's road mix (scripts/finetune_world.sh: world)
THREADS=${THREADS:-1}
IMG_STEPS=${IMG_STEPS:-6000}
VID_STEPS=${VID_STEPS:-300}
INT_STEPS=${INT_STEPS:-300}
UPS_STEPS=${UPS_STEPS:-2000}
UPT_STEPS=${UPT_STEPS:-200}
FG=${FG_WEIGHT:-2}
# upsampler settings: none for the record's step 1 (checkpoints/default/README.md); scripts/finetune_world.sh
# keeps the degraded-input training of the base's fine-tuned upsampler (scripts/finetune_upsampler.sh, round 2)
read -r -a UPS_SET <<< "${UPS_SETTINGS:-}"
# UPSAMPLER=base keeps BASE's upsampler instead of growing and fine-tuning one (UPS_STEPS, UPT_STEPS unused)
# SR_STEPS (2), GUIDANCE (2.0) and INTERP_STEPS (4): the sampling defaults written into OUT/config.yaml at the end

drivesim synth-data -o "$DATA" --clips 160 --frames 48 --size 256x512 --fps 10 --seed 0 --workers 1 --mix "$MIX" -q

source "$(dirname "$0")/stage_done.sh"
step() {  # step RUN BUNDLE COMMAND...: once (a marker in OUT/.train); BUNDLE/.train/RUN holds its resumable state
  local run=$1 bundle=$2
  shift 2
  run_once "$OUT/.train/finetune-$run.done" "$bundle/.train/$run" "$run" "$@"
}

step image "$OUT" drivesim train image --data "$DATA" --config "$CONFIG" --init-from "$BASE" --out "$OUT" --steps "$IMG_STEPS" \
    --batch 16 --lr 2e-4 --set fg_weight="$FG" --set p_null=0.1 --threads "$THREADS" --save-every 250 \
    --preview-every 1000 -q
# the video and interpolation stages side by side (each writes only its own part file)
step video "$OUT" drivesim train video --data "$DATA" --out "$OUT" --steps "$VID_STEPS" --batch 4 --set fg_weight="$FG" \
    --set p_null=0.1 --threads "$THREADS" --save-every 50 --preview-every 0 -q &
VID=$!
step interpolation "$OUT" drivesim train interpolation --data "$DATA" --out "$OUT" --steps "$INT_STEPS" --batch 8 \
    --set fg_weight="$FG" --set p_null=0.1 --threads "$THREADS" --save-every 50 --preview-every 0 -q
wait $VID
if [ "${UPSAMPLER:-train}" = base ]; then
  # BASE's upsampler as it is (its part, config section and stages.json entry): it reads the box channels of
  # the layout (the first 6 of every layout) and was trained for small road users far longer than a
  # fine-tune here (checkpoints/default/README.md: the world default keeps the previous default's)
  UPS_FROM=$BASE
else
  # the pixel upsampler (independent of the latent stages) in OUT.upsampler, grown from BASE's with the
  # layout maps as extra input, then its part and config section copied into OUT
  step upsampler "$OUT.upsampler" drivesim train upsampler --phase spatial --data "$DATA" --config "$CONFIG" \
      --init-from "$BASE" --out "$OUT.upsampler" --steps "$UPS_STEPS" --batch 8 --threads "$THREADS" --save-every 250 \
      --preview-every 500 -q "${UPS_SET[@]}"
  step upsampler-temporal "$OUT.upsampler" drivesim train upsampler --phase temporal --data "$DATA" --out "$OUT.upsampler" \
      --steps "$UPT_STEPS" --batch 8 --threads "$THREADS" --save-every 50 --preview-every 100 -q "${UPS_SET[@]}"
  UPS_FROM=$OUT.upsampler
fi
drivesim bundle merge "$OUT" --from "$UPS_FROM" --part upsampler
# Sampling defaults chosen from `drivesim eval` (checkpoints/default/README.md).
drivesim bundle set "$OUT" upsampler_diffusion.num_inference_steps="${SR_STEPS:-2}" \
    diffusion.guidance_scale="${GUIDANCE:-2.0}" diffusion.interpolation_steps="${INTERP_STEPS:-4}"
drivesim info "$OUT"
