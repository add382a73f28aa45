#!/usr/bin/env bash
# Grows a bundle's upsampler to read the road maps too (the 11 layout channels of `tiny_world`: boxes, then
# drivable area, solid and dashed lane lines, road edges, lane direction; the new inputs start at zero, so
# the grown upsampler starts equal to BASE's) and fine-tunes it on straight roads and the world's roads
# together: a folder of links to the clips of data/synth (version 1's straight roads, what BASE's upsampler
# learnt small road users on) and data/world (bends, two-way roads, junctions), with the degraded-input
# settings of scripts/finetune_upsampler.sh's round 2. Then OUT is a copy of BASE with that upsampler.
# One CPU thread; rerun after an interruption: finished phases are skipped, an interrupted one resumes.
#
#   bash scripts/road_upsampler.sh BASE_BUNDLE OUT_BUNDLE
#   SPATIAL=1500 TEMPORAL=100 LR=2e-4 VRU=0 bash scripts/road_upsampler.sh checkpoints/default /tmp/road_ups
#   TRAIN_ONLY=conv_in VRU=3 TEMPORAL=0 bash scripts/road_upsampler.sh BASE OUT   (the shipped default's: the input
#       layer alone learns the road, the rest stays BASE's; no temporal phase, as nothing temporal trains)
#
# Why: the keyframe model draws the road at 64x128 pixels, where a lane line is about a pixel wide; an
# upsampler that reads only the boxes draws the lines at 256x512 from that blur (docs/eval.md, "Road
# adherence"). The upsampler alone changes; BASE's latent stages and their students are kept.
set -euo pipefail
BASE=${1:?base bundle (a trained tiny_world bundle)}
OUT=${2:?output bundle folder (a copy of BASE with the road-reading upsampler)}
SPATIAL=${SPATIAL:-1500}
TEMPORAL=${TEMPORAL:-100}
THREADS=${THREADS:-1}
LR=${LR:-2e-4}  # the upsampler stage's
VRU=${VRU:-0}  # vru_weight: extra loss weight under two-wheelers' and pedestrians' boxes
TRAIN_ONLY=${TRAIN_ONLY:-}  # e.g. conv_in: only the input layer learns to read the road, the rest stays BASE's
MIXED=${MIXED:-data/upsampler_mix}
SETTINGS=(--set decoded_p=0.5 --set erase_p=0.5 --set fg_weight=3 --set vru_weight="$VRU" --set train_only="$TRAIN_ONLY")
UPS=$OUT.upsampler  # where the upsampler trains (its own bundle, merged into OUT at the end)

drivesim synth-data -o data/synth --clips 160 --frames 48 --size 256x512 --fps 10 --seed 0 --workers 1 --mix v1 -q
drivesim synth-data -o data/world --clips 160 --frames 48 --size 256x512 --fps 10 --seed 0 --workers 1 --mix world -q
mkdir -p "$MIXED"
for mix in synth world; do
  for clip in data/$mix/clip_*; do ln -sfn "$(realpath "$clip")" "$MIXED/${mix}_$(basename "$clip")"; done
done

source "$(dirname "$0")/stage_done.sh"
phase() {  # phase NAME RUN COMMAND...: once (a marker in UPS/.train); UPS/.train/RUN holds its resumable state
  local name=$1 run=$2
  shift 2
  run_once "$UPS/.train/road-upsampler-$name.done" "$UPS/.train/$run" "upsampler $name" "$@"
}
phase spatial upsampler drivesim train upsampler --phase spatial --data "$MIXED" --config tiny_world --init-from "$BASE" \
    --out "$UPS" --steps "$SPATIAL" --batch 8 --lr "$LR" --threads "$THREADS" --save-every 250 --preview-every 500 -q "${SETTINGS[@]}"
if [ "$TEMPORAL" -gt 0 ]; then
  phase temporal upsampler-temporal drivesim train upsampler --phase temporal --data "$MIXED" --out "$UPS" \
      --steps "$TEMPORAL" --batch 8 --lr "$LR" --threads "$THREADS" --save-every 50 --preview-every 100 -q "${SETTINGS[@]}"
fi

if [ ! -f "$OUT/config.yaml" ]; then
  mkdir -p "$OUT"
  cp "$BASE"/*.safetensors "$BASE"/config.yaml "$BASE"/stages.json "$OUT"/
  [ -d "$BASE/students" ] && cp -r "$BASE/students" "$OUT"/
fi
drivesim bundle merge "$OUT" --from "$UPS" --part upsampler
drivesim bundle drop-student "$OUT" upsampler  # BASE's upsampler student belongs to the old upsampler
drivesim info "$OUT"
