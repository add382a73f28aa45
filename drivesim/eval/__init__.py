"""Evaluation of a bundle: condition adherence, temporal consistency, Fréchet distance, the paper's ablations.

    drivesim eval checkpoints/default --data data/synth --quick

Modules: adherence (luminance ratio, box adherence), temporal (optical-flow warp error), frechet
(feature network + Fréchet distance), scenarios (held-out scenarios), ablations, controllability
(road users found where their labels say, with crops and detector: the crop classifier), report
(the run and report.md). What each number means: docs/eval.md.
"""

from drivesim.eval.report import EvalReport, EvalSettings, format_main_table, run_eval

__all__ = ["EvalReport", "EvalSettings", "format_main_table", "run_eval"]
