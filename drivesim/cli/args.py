"""What several commands share: argument types, help texts, and `add_command`, which gives every
command its help line as description and its examples as epilog.

Imports nothing heavy: every command module imports this at parse time (`drivesim --help` and the
client must not load torch).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from drivesim.errors import DrivesimError
from drivesim.scenario.step_limits import MAX_AGENTS_PER_STEP

__all__ = ["CHECKPOINT_HELP", "PRECISION_HELP", "STUDENT_HELP", "TRAJECTORY_HELP", "Subparsers", "add_command",
           "add_student_flag", "add_trajectory_args", "index_list", "number_above", "positive_int", "seed", "whole_in"]

Subparsers = argparse._SubParsersAction  # what `add_subparsers` returns; argparse has no public name for it

TRAJECTORY_HELP = ("replay a simulator's per-frame world state (docs/trajectory-format.md); the scenario is then "
                   "its header: camera, fps, seed, road and start environment, no agents")
CHECKPOINT_HELP = ("checkpoint bundle folder (default: $DRIVESIM_CHECKPOINT, else the shipped default bundle, "
                   "found wherever drivesim is installed)")
PRECISION_HELP = ("the networks' arithmetic: auto (default) = bf16 where the device computes it natively (CUDA, "
                  "CPUs with AVX512-BF16 or AMX: ~1.6x faster, frames within ~0.3/255 on average), else fp32; "
                  "fp32 = exact")


STUDENT_HELP = ("sample with the bundle's few-step students (`drivesim train distill`: LCM steps, the guidance "
                "folded in, no guidance pass) where it has one, with the teacher elsewhere (the manifest says which); "
                "an error for a bundle without students")


def add_student_flag(parser: argparse.ArgumentParser, where: str = "") -> None:
    """--student, the same on every command whose pixels come from the networks (`where`: to whom it applies)."""
    parser.add_argument("--student", action="store_true", help=STUDENT_HELP + where)


def add_trajectory_args(parser: argparse.ArgumentParser, help: str = TRAJECTORY_HELP) -> None:
    """--trajectory FILE and --max-agents-per-line N, the same on every command that replays a trajectory."""
    parser.add_argument("--trajectory", metavar="FILE.jsonl", help=help)
    parser.add_argument("--max-agents-per-line", type=max_agents_per_line, default=MAX_AGENTS_PER_STEP, metavar="N",
                        help=f"most actors one trajectory line may hold (default {MAX_AGENTS_PER_STEP}, as a server "
                             "session step's --max-agents-per-step); a line with more is refused")


def add_command(sub: Subparsers, name: str, help: str, examples: str) -> argparse.ArgumentParser:
    """A command's parser: its help line (shown in `drivesim -h`) is also its description, and its
    examples (one per line) end `drivesim NAME -h`."""
    epilog = ("examples:\n  " if "\n" in examples else "example:\n  ") + examples
    return sub.add_parser(name, help=help, description=help, epilog=epilog,
                          formatter_class=argparse.RawDescriptionHelpFormatter)


# --- argument types --------------------------------------------------------------------------

def index_list(text: str) -> list[int]:
    """`0,40,80` -> [0, 40, 80] (frame indices, >= 0)."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected frame indices like 0,40,80, got {text!r}") from None
    if any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"frame indices are >= 0, got {text!r}")
    return values


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


# Option values out of range raise DrivesimError (not argparse's exit 2): main() prints them as
# one line and exits 1, like every other user error. The message names the option.

def whole_in(option: str, low: int, high: int) -> Callable[[str], int]:
    """Type of `option`: a whole number in low..high."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise DrivesimError(f"{option} expects a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise DrivesimError(f"{option} must be in {low}..{high}, got {value}")
        return value
    return parse


def number_above(option: str, low: float, inclusive: bool) -> Callable[[str], float]:
    """Type of `option`: a finite number above `low` (or equal to it, with `inclusive`)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise DrivesimError(f"{option} expects a number, got {text!r}") from None
        if not math.isfinite(value) or value < low or (value == low and not inclusive):
            raise DrivesimError(f"{option} must be a finite number {'>=' if inclusive else '>'} {low:g}, got {text}")
        return value
    return parse


seed = whole_in("--seed", 0, 2**31 - 1)  # the range of a scenario's `seed:`
max_agents_per_line = whole_in("--max-agents-per-line", 1, 10**9)
