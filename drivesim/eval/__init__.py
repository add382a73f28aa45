"""Evaluation of a bundle: condition adherence, temporal consistency, Fréchet distance, the paper's ablations.

    drivesim eval checkpoints/default --data data/synth --quick

Modules, in the order a run uses them: settings (EvalSettings, the --quick and full presets), real
(the --data clips and the feature network), the sections -- main_section (held-out scenarios:
adherence, temporal, frechet, ablations), controllability (road users found where their labels say,
with crops and detector: the crop classifier), drift (a minutes-long rollout) -- and report (runs
the sections, writes report.md and report.json). Shared by the sections: scenarios (held-out
scenarios, generating them), tables (Markdown), pictures (sample strips). Sections never import
report. What each number means: docs/eval.md.
"""

from drivesim.eval.report import EvalReport, format_main_table, run_eval
from drivesim.eval.settings import EvalSettings

__all__ = ["EvalReport", "EvalSettings", "format_main_table", "run_eval"]
