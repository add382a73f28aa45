"""What one server accepts, and the counters that enforce it (RESOURCE_EXHAUSTED beyond).

    python -c "from drivesim.serve.limits import Limits; print(Limits())"
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from drivesim.scenario.format import Scenario
from drivesim.scenario.step_limits import MAX_AGENTS_PER_STEP


@dataclass(frozen=True)
class Limits:
    max_streams: int = 4  # Generate calls at once
    max_sessions: int = 4  # OpenSession calls at once
    max_duration_s: float = 600.0  # a scenario's duration_s
    max_pixels: int = 1024 * 512  # camera width * height (the paper's top resolution)
    max_frames_per_step: int = 64  # frames one session step may ask for
    # Agents one session step may send (the same default as a trajectory line's, step_limits.py).
    max_agents_per_step: int = MAX_AGENTS_PER_STEP
    max_message_bytes: int = 64 * 1024 * 1024  # one frame at 1024x512 RAW is 1.5 MiB
    max_filename_chars: int = 1024  # a request's `filename`, copied into every issue it reports

    def scenario_problem(self, scenario: Scenario, check_duration: bool = True) -> str | None:
        """Why the scenario is over a limit, or None."""
        cam = scenario.camera
        if cam.width * cam.height > self.max_pixels:
            return (f"camera {cam.width}x{cam.height} = {cam.width * cam.height} pixels is over this server's "
                    f"limit of {self.max_pixels} pixels per frame; lower camera.width/height")
        if check_duration and scenario.duration_s > self.max_duration_s:
            return (f"duration_s {scenario.duration_s:g} is over this server's limit of {self.max_duration_s:g} s; "
                    "split the scenario or ask the operator to raise --max-duration-s")
        return None


class Admission:
    """Counts running Generate streams and open sessions against the limits."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self._lock = threading.Lock()
        self.active = {"stream": 0, "session": 0}
        self._caps = {"stream": limits.max_streams, "session": limits.max_sessions}

    @contextmanager
    def slot(self, kind: str) -> Iterator[bool]:
        """Yields True while holding a slot of `kind` ("stream" | "session"), False if none is free."""
        with self._lock:
            granted = self.active[kind] < self._caps[kind]
            if granted:
                self.active[kind] += 1
        try:
            yield granted
        finally:
            if granted:
                with self._lock:
                    self.active[kind] -= 1
