#!/usr/bin/env bash
# Distils few-step students of a trained bundle's diffusion models (docs/training.md, "Few-step students")
# into a copy of it: the keyframe model, the interpolator, the upsampler. BASE is never written: its
# parts, config, stages.json, students and latent cache are copied into OUT first (BASE's students of the
# models named are not: they are distilled anew). One CPU thread; rerun after an
# interruption: finished students are skipped (OUT/stages.json records them), an interrupted one resumes
# from its last saved step. Then `drivesim bench --checkpoint OUT --quick --student` and `drivesim eval OUT
# --data DATA --only controllability --student` measure them against their teachers (docs/performance.md).
#
#   bash scripts/distill.sh BASE_BUNDLE OUT_BUNDLE [DATA_DIR]
#   MODELS=keyframe STEPS=300 bash scripts/distill.sh checkpoints/default /tmp/default_students data/world
#
# Settings: MODELS (default "keyframe interpolator upsampler"), STEPS (per model; default the stage's:
# 1000, 1000, 500), STUDENT_STEPS (the students' sampling steps, 4), BATCH (default the teacher stage's),
# THREADS (1), SETTINGS (more stage settings, "NAME=VALUE ...": each becomes a --set; e.g.
# "student_temporal_attention=1" for an upsampler student without level 0's temporal attention). DATA_DIR (default data/synth) must be clips the base was trained on: for the shipped
# default's keyframe model and interpolator, `drivesim synth-data -o data/world --clips 160 --frames 48
# --size 256x512 --fps 10 --seed 0 --workers 1 --mix world`; for its upsampler, the same with -o data/synth
# --mix v1.
set -euo pipefail
BASE=${1:?base bundle (a trained bundle: its stages.json records the stages the students are distilled from)}
OUT=${2:?output bundle folder (a copy of BASE with the students beside its models)}
DATA=${3:-data/synth}
MODELS=${MODELS:-keyframe interpolator upsampler}
STUDENT_STEPS=${STUDENT_STEPS:-4}
THREADS=${THREADS:-1}
source "$(dirname "$0")/stage_done.sh"
SETS=()
for setting in ${SETTINGS:-}; do SETS+=(--set "$setting"); done

if [ ! -f "$OUT/config.yaml" ]; then
  mkdir -p "$OUT"
  cp "$BASE"/*.safetensors "$BASE"/config.yaml "$OUT"/
  [ -f "$BASE/stages.json" ] && cp "$BASE/stages.json" "$OUT"/
  [ -d "$BASE/students" ] && cp -r "$BASE/students" "$OUT"/
  if [ -d "$BASE/.train/latents" ]; then mkdir -p "$OUT/.train" && cp -r "$BASE/.train/latents" "$OUT/.train/"; fi
  # the models named are distilled anew (BASE may ship students of them, as the default does): their students,
  # config entries and distill records are not carried over; BASE's students of the other models are kept
  drivesim bundle drop-student "$OUT" $MODELS
fi

for model in $MODELS; do
  if stage_done "$OUT" "distill-$model"; then echo "== $model student: done, skipped"; continue; fi
  echo "== $model student $(date +%T)"
  resume=""
  [ -d "$OUT/.train/distill-$model" ] && resume="--resume"
  drivesim train distill "$model" --bundle "$OUT" --data "$DATA" ${STEPS:+--steps "$STEPS"} ${BATCH:+--batch "$BATCH"} \
      --set student_steps="$STUDENT_STEPS" "${SETS[@]}" --threads "$THREADS" --save-every 100 --preview-every 250 \
      -q $resume
done
drivesim info "$OUT"
