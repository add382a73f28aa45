#!/usr/bin/env bash
# The GPU path's figures in one prepared command (docs/performance.md, "GPU path"), within 6 minutes
# on one H100 or H200. It installs the wheels carried in .whl/ (made here by
# scripts/fetch_device_wheels.sh; that machine reaches no package index), then runs
# `drivesim bench --mfu` on the `paper` config (random weights) at 512x1024 in three parts, each its
# own process under its own time limit, so a part that runs long leaves the others' figures:
#   generate_eager     bf16 autocast: output frames/s per stage, peak GPU memory, counted FLOPs, MFU
#   train              the image and video training stages: steps/s, peak GPU memory, MFU
#   generate_compiled  the same generation with torch.compile (compiling takes minutes, so last)
#   generate_student   with CHECKPOINT set to a bundle that has few-step students (`drivesim train distill`):
#                      the eager generation again with --student (runs before generate_compiled)
# and merges them into $OUT/device_check.json and device_check.md (log: device_check.log).
#
#   bash scripts/fetch_device_wheels.sh         # here, once: .whl/ (about 27 MiB)
#   bash scripts/device_check.sh                # on the GPU machine; writes to $OUT (default out/device_check)
#   DRY_RUN=1 bash scripts/device_check.sh      # anywhere: tiny config on the CPU, tiny sizes, no install
#
# Settings: OUT, PYTHON (python3), BUDGET_S (seconds for everything, 340), PARTS (NAME:SECONDS ...,
# e.g. PARTS="generate_compiled:480" to give the compiled run a whole budget of its own), CHECKPOINT (a
# trained bundle instead of the random config; carry it beside the tree). Exits 1 when
# a part failed or ran out of time (what it had measured is still in its JSON and the merged report).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
OUT=${OUT:-out/device_check}
PYTHON=${PYTHON:-python3}
BUDGET_S=${BUDGET_S:-340}
MERGE_S=20  # kept back for the merge
mkdir -p "$OUT"
LOG="$OUT/device_check.log"
: >"$LOG"
say() { echo "$*" | tee -a "$LOG"; }

say "device_check: $($PYTHON --version 2>&1) at $(command -v "$PYTHON"); dry run: ${DRY_RUN:-0}"
if [ "${DRY_RUN:-0}" = 1 ]; then
  # The same parts on the CPU: tiny config, 3 output frames, one sampling step, one timed training step.
  COMMON=(--device cpu --random-config tiny --threads 1 --frames 3 --steps 1 --sr-steps 1)
  TRAIN=(--train-steps 1 --train-seconds 30)
  DEFAULT_PARTS="generate_eager:90 train:90"
  STUDENT_PART="generate_student:90"
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >>"$LOG" 2>&1
  say "installing $(ls .whl/*.whl 2>/dev/null | wc -l) carried wheels into /tmp/site ..."
  if ! $PYTHON -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
      .whl/*.whl >>"$LOG" 2>&1; then
    say "error: could not install .whl/*.whl: run scripts/fetch_device_wheels.sh here and name .whl in carry"
    exit 1
  fi
  export PYTHONPATH="/tmp/site:$PWD"
  # The issue's fast setting (8 latent steps, 4 upsampler steps); 236 output frames (one keyframe clip).
  COMMON=(--device cuda --random-config paper --sampler ddim --steps 8 --sr-steps 4)
  TRAIN=(--train-steps 300 --train-seconds 40)
  DEFAULT_PARTS="generate_eager:110 train:110 generate_compiled:600"
  STUDENT_PART="generate_student:90"
fi
if [ -n "${CHECKPOINT:-}" ]; then  # a trained bundle instead of the random weights of the config
  COMMON=("${COMMON[@]/--random-config/--checkpoint}")
  for i in "${!COMMON[@]}"; do [ "${COMMON[$i]}" = --checkpoint ] && COMMON[$((i + 1))]=$CHECKPOINT; done
  students=$($PYTHON -c "import sys; from drivesim.models.bundle import read_bundle_config as r
print(' '.join(r(sys.argv[1]).students.present()))" "$CHECKPOINT" 2>>"$LOG")
  say "bundle $CHECKPOINT; students: ${students:-none}"
  # its students are timed too, before the compiled run
  [ -n "$students" ] && DEFAULT_PARTS="${DEFAULT_PARTS/train:/$STUDENT_PART train:}"
fi
PARTS=${PARTS:-$DEFAULT_PARTS}

failed=0
for part in $PARTS; do
  name=${part%%:*} limit=${part##*:}
  left=$((BUDGET_S - SECONDS - MERGE_S))
  [ "$limit" -gt "$left" ] && limit=$left
  if [ "$limit" -lt 30 ]; then
    say "== $name: skipped, ${left} s of the budget left"; failed=1; continue
  fi
  case $name in
    generate_eager) args=(--mfu generate "${COMMON[@]}") ;;
    generate_compiled) args=(--mfu generate --compile "${COMMON[@]}") ;;
    generate_student) args=(--mfu generate --student "${COMMON[@]}") ;;
    train) args=(--mfu train "${COMMON[@]}" "${TRAIN[@]}") ;;
    *) say "== $name: no such part (generate_eager, train, generate_compiled, generate_student)"; failed=1; continue ;;
  esac
  say "== $name (at most ${limit} s): drivesim bench ${args[*]}"
  rm -f "$OUT/$name.json"  # figures of an earlier run never pass for this one's
  timeout -k 10 "$limit" "$PYTHON" -m drivesim.cli bench "${args[@]}" --json "$OUT/$name.json" 2>&1 | tee -a "$LOG"
  rc=${PIPESTATUS[0]}
  say "== $name: exit $rc at ${SECONDS} s$([ "$rc" = 124 ] && echo ' (its time limit)')"
  [ "$rc" = 0 ] || failed=1
done

say "== merged report ($OUT/device_check.md)"
timeout "$MERGE_S" "$PYTHON" -m drivesim.bench.device_report merge "$OUT" 2>&1 | tee -a "$LOG"
[ "${PIPESTATUS[0]}" = 0 ] || failed=1
say "device_check: done in ${SECONDS} s, $([ $failed = 0 ] && echo 'every part finished' || echo 'some part failed or ran out of time')"
exit $failed
