# Sourced by the training scripts: stage_done BUNDLE NAME [PHASE] succeeds when BUNDLE/stages.json
# records the stage (and phase) as trained, so a rerun skips it.
stage_done() {
  [ -f "$1/stages.json" ] && python3 - "$1/stages.json" "${@:2}" <<'PY'
import json, sys
stages = json.load(open(sys.argv[1])).get("stages", {})
name, phase = sys.argv[2], (sys.argv[3] if len(sys.argv) > 3 else None)
ok = name in stages and (phase is None or phase in stages[name].get("phases", {}))
sys.exit(0 if ok else 1)
PY
}
