"""Which checkpoint bundle a command uses: `--checkpoint`, else `$DRIVESIM_CHECKPOINT`, else the default.

The default bundle lives in `checkpoints/default` of a source checkout; a wheel carries a copy
inside the package (`drivesim/default_checkpoint`, see `setup.py`). Both are found from this
file's location, never from the current folder, so every command works from any folder.
No torch here: the server and the client import this too.

    python -c "from drivesim.models.checkpoint import resolve_checkpoint; print(resolve_checkpoint())"
"""

from __future__ import annotations

import os
from pathlib import Path

from drivesim.errors import BundleError

__all__ = ["ENV_VAR", "default_locations", "resolve_checkpoint"]

ENV_VAR = "DRIVESIM_CHECKPOINT"
CONFIG_FILE = "config.yaml"  # what marks a bundle folder (drivesim.models.bundle.CONFIG_FILE; no torch import)


def default_locations() -> tuple[Path, Path]:
    """Where the default bundle is looked for: the wheel's copy, then the source checkout's."""
    package = Path(__file__).resolve().parents[1]  # drivesim/
    return package / "default_checkpoint", package.parent / "checkpoints" / "default"


def resolve_checkpoint(checkpoint: str | Path | None = None) -> Path:
    """The bundle folder to load: `checkpoint` if given (load errors name it), else the folder in
    $DRIVESIM_CHECKPOINT, else the default bundle; BundleError says where it looked."""
    if checkpoint is not None and str(checkpoint) != "":
        return Path(checkpoint)
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        path = Path(env).expanduser()
        if not (path / CONFIG_FILE).is_file():
            raise BundleError(f"${ENV_VAR} is {env!r}, but {path.resolve()} is not a bundle folder (no {CONFIG_FILE}); "
                              f"point {ENV_VAR} at a bundle folder, or unset it to use the default bundle")
        return path
    locations = default_locations()
    for path in locations:
        if (path / CONFIG_FILE).is_file():
            return path
    raise BundleError(f"no checkpoint given and no default bundle found: --checkpoint was not passed, ${ENV_VAR} "
                      f"is not set, and neither {locations[0]} (installed package) nor {locations[1]} (source "
                      f"checkout) holds a bundle; pass --checkpoint FOLDER or set {ENV_VAR}=FOLDER")
