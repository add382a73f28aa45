"""Small file-writing helpers shared by every sink: writes are atomic (temp file + rename)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

from drivesim.errors import DrivesimError


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so readers see the old file or the new one, never a partial one."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            # mkstemp makes 0600 files; give the usual permissions (0666 minus the umask).
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as err:
        raise DrivesimError(f"cannot write {path}: {err.strerror or err}. "
                            "Check that the folder is writable and the disk has space.") from err


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_png(path: Path, image: np.ndarray) -> None:
    """`image` (H, W, 3) uint8 RGB as a PNG at `path`, atomically (OpenCV writes BGR, hence the swap)."""
    ok, data = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR))
    if not ok:
        raise DrivesimError(f"cannot encode {path} as PNG (image of shape {image.shape}, {image.dtype})")
    atomic_write_bytes(Path(path), data.tobytes())
