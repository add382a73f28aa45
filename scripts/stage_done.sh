# Sourced by the training scripts, so a rerun after an interruption skips what finished and resumes the rest.
# stage_done BUNDLE NAME [PHASE] succeeds when BUNDLE/stages.json records the stage (and phase) as trained.
stage_done() {
  [ -f "$1/stages.json" ] && python3 - "$1/stages.json" "${@:2}" <<'PY'
import json, sys
stages = json.load(open(sys.argv[1])).get("stages", {})
name, phase = sys.argv[2], (sys.argv[3] if len(sys.argv) > 3 else None)
ok = name in stages and (phase is None or phase in stages[name].get("phases", {}))
sys.exit(0 if ok else 1)
PY
}

# run_once MARKER STATE LABEL COMMAND...: runs COMMAND unless the file MARKER says it finished (then touches
# MARKER); with --resume when its run's saved state (the folder STATE, BUNDLE/.train/RUN) exists.
run_once() {
  local marker=$1 state=$2 label=$3
  shift 3
  if [ -f "$marker" ]; then echo "== $label: done, skipped"; return; fi
  local resume=""
  [ -d "$state" ] && resume="--resume"
  echo "== $label $(date +%T)"
  "$@" $resume && touch "$marker"
}
