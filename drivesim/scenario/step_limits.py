"""How much one world state may hold: a closed-loop session step, a trajectory line. Imports nothing, so
the command line's help texts read it without loading the scenario layer.

    python -c "from drivesim.scenario.step_limits import MAX_AGENTS_PER_STEP; print(MAX_AGENTS_PER_STEP)"
"""

# Agents in one world state, the default of `drivesim serve --max-agents-per-step` (a session step) and of
# `--max-agents-per-line` (a trajectory line; `max_agents_per_line=` in Python). Planning a frame costs
# about n log n in its agents, milliseconds per hundred (occlusion: scenario/boxes.py); a real scene has a
# few dozen in view. Raising it is the operator's choice: 20,000 agents take seconds per frame.
MAX_AGENTS_PER_STEP = 500
