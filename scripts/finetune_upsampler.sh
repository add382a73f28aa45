#!/usr/bin/env bash
# Fine-tunes a bundle's layout-reading upsampler on the low-res inputs it gets at sampling time:
# half the clips through the autoencoder (decoded_p), and road users smeared out of the low-res
# input (erase_p) so the layout maps alone say where to draw them, the loss weighted under the
# boxes (fg_weight). Two rounds, the second with more erasing. Only the upsampler changes; the
# latent stages of BASE are copied as they are. One CPU thread; rerun after an interruption: finished
# rounds are skipped, an interrupted one resumes from its last saved step.
#
#   bash scripts/finetune_upsampler.sh BASE_BUNDLE OUT_BUNDLE [DATA_DIR]
#   MIX=world R1="0 0" R2="2400 100" bash scripts/finetune_upsampler.sh WORLD_BUNDLE OUT data/world
#
# MIX: synth-data's road mix of DATA_DIR (v1; the world bundle's: world). R1, R2: each round's spatial and
# temporal steps ("4000 200", "3000 100"); a round of "0 0" is skipped.
#
# checkpoints/default/README.md says which base and steps made the shipped default.
set -euo pipefail
BASE=${1:?base bundle (a trained tiny bundle whose upsampler reads the layout maps)}
OUT=${2:?output bundle folder}
DATA=${3:-data/synth}
THREADS=${THREADS:-1}
MIX=${MIX:-v1}
read -r R1_SPATIAL R1_TEMPORAL <<< "${R1:-4000 200}"
read -r R2_SPATIAL R2_TEMPORAL <<< "${R2:-3000 100}"

drivesim synth-data -o "$DATA" --clips 160 --frames 48 --size 256x512 --fps 10 --seed 0 --workers 1 --mix "$MIX" -q
[ -f "$OUT/config.yaml" ] || { mkdir -p "$OUT"; cp "$BASE"/*.safetensors "$BASE"/config.yaml "$BASE"/stages.json "$OUT"/; }

round() {  # round NAME SPATIAL_STEPS TEMPORAL_STEPS SETTINGS...: once; a marker says it finished
  local name=$1 spatial=$2 temporal=$3; shift 3
  local marker="$OUT/.train/finetune-upsampler-$name.done"
  if [ -f "$marker" ]; then echo "== upsampler $name: done, skipped"; return; fi
  if [ "$spatial" = 0 ] && [ "$temporal" = 0 ]; then echo "== upsampler $name: 0 steps, skipped"; return; fi
  echo "== upsampler $name $(date +%T)"
  local resume=""
  [ -d "$OUT/.train/upsampler" ] && resume="--resume"
  drivesim train upsampler --phase spatial --data "$DATA" --out "$OUT" --steps "$spatial" --batch 8 \
      --threads "$THREADS" --save-every 250 --preview-every 1000 -q $resume "$@"
  resume=""
  [ -d "$OUT/.train/upsampler-temporal" ] && resume="--resume"
  drivesim train upsampler --phase temporal --data "$DATA" --out "$OUT" --steps "$temporal" --batch 8 \
      --threads "$THREADS" --save-every 50 --preview-every 100 -q $resume "$@"
  rm -rf "$OUT/.train/upsampler" "$OUT/.train/upsampler-temporal"  # the next round starts afresh
  touch "$marker"
}

round 1 "$R1_SPATIAL" "$R1_TEMPORAL" --set decoded_p=0.5 --set erase_p=0.3 --set fg_weight=2
round 2 "$R2_SPATIAL" "$R2_TEMPORAL" --set decoded_p=0.5 --set erase_p=0.5 --set fg_weight=3
drivesim info "$OUT"
