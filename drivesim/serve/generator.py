"""Frame backends for the gRPC server, and how concurrent calls share one of them.

    python -c "from drivesim.serve.generator import SchematicGenerator as G; print(G().info)"

A backend turns frame conditions into RGB frames:
- `SchematicGenerator`: sky, road, lane lines and class-coloured filled boxes
  (`drivesim.draw.schematic.render_schematic`). Fast and deterministic; for tests,
  benchmarks of the transport and wiring a simulator.
- `PipelineGenerator`: the Video LDM pipeline (`drivesim.pipeline.generate`), imported lazily
  so the server, the client and the schematic backend never import torch.

Scheduling (see docs/grpc.md): the gRPC server runs each call on its own thread. A backend
that says `thread_safe = False` (one shared model) is wrapped in `SerializedGenerator`, which
lets one call at a time advance by one frame (or one session step) under a FIFO lock, so
concurrent streams interleave frame by frame and all make progress; a cancelled call that
waits for the lock leaves the queue at once. Per-call state (the iterator, its RNG, its
context frames) belongs to the call, so interleaving never mixes two calls' frames.
"""

from __future__ import annotations

import threading
from collections import deque
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import numpy as np

from drivesim.errors import BundleError, DrivesimError
from drivesim.scenario.format import Scenario
from drivesim.scenario.labels import FrameConditions

Cancelled = Callable[[], bool]


class BackendUnavailable(DrivesimError):
    """The frame backend cannot run here (module or checkpoint missing); the server answers UNAVAILABLE."""


class Unsupported(DrivesimError):
    """The backend does not offer this call; the server answers UNIMPLEMENTED."""


class SessionStepper(Protocol):
    def step(self, conditions: list[FrameConditions], cancelled: Cancelled = lambda: False) -> list[np.ndarray]:
        """Frames (RGB uint8, camera size) for the given conditions, continuing the session's video.
        Once `cancelled()` is true it may return early with fewer frames (the call has ended)."""
        ...


class FrameGenerator(Protocol):
    info: dict[str, Any]  # backend, bundle, bundle_hash, native_width, native_height
    thread_safe: bool  # False: the server serialises calls into it (SerializedGenerator)

    def generate(self, scenario: Scenario, seed: int,
                 cancelled: Cancelled) -> Iterator[tuple[np.ndarray, FrameConditions]]:
        """Every frame of the scenario with its conditions, in order; stops early once `cancelled()`."""
        ...

    def session(self, header: Scenario, seed: int) -> SessionStepper:
        ...


# --- schematic backend ---------------------------------------------------------------------

class _SchematicStepper:
    def __init__(self, header: Scenario):
        from drivesim.scenario.camera import PinholeCamera

        self.camera = PinholeCamera.from_config(header.camera)

    def step(self, conditions: list[FrameConditions], cancelled: Cancelled = lambda: False) -> list[np.ndarray]:
        from drivesim.draw.schematic import render_schematic

        frames = []
        for fc in conditions:
            if cancelled():
                break
            frames.append(render_schematic(self.camera, fc))
        return frames


class SchematicGenerator:
    """Draws each frame's conditions; no model, no randomness beyond the engine's own."""

    thread_safe = True

    def __init__(self) -> None:
        self.info: dict[str, Any] = {"backend": "schematic", "bundle": "", "bundle_hash": "",
                                     "native_width": 0, "native_height": 0}

    def generate(self, scenario: Scenario, seed: int,
                 cancelled: Cancelled) -> Iterator[tuple[np.ndarray, FrameConditions]]:
        from drivesim.scenario.engine import ScenarioEngine

        engine = ScenarioEngine(scenario, seed=seed)
        stepper = _SchematicStepper(scenario)
        for fc in engine.frames():
            if cancelled():
                return
            yield stepper.step([fc])[0], fc

    def session(self, header: Scenario, seed: int) -> SessionStepper:
        return _SchematicStepper(header)


# --- diffusion backend ---------------------------------------------------------------------

class PipelineGenerator:
    """The Video LDM pipeline (`drivesim.pipeline.VideoPipeline`) behind the FrameGenerator interface.

    The bundle is loaded once (`load()`, called by `drivesim serve` at start-up) and shared by
    every call; each call gets its own engine and seeded noise (`clip_generator`), so calls
    interleaved by SerializedGenerator never share random state.
    """

    thread_safe = False  # one shared model: the server serialises calls (SerializedGenerator)

    def __init__(self, checkpoint: str | Path | None = None, device: str = "cpu",
                 options: dict[str, Any] | None = None):
        # None: the bundle `drivesim generate` uses (drivesim.models.checkpoint), resolved when loading
        self.checkpoint, self.device = checkpoint, device
        self.options = dict(options or {})  # GenerateOptions fields: steps, sampler, guidance, ...
        self._pipeline: Any = None
        self._load_lock = threading.Lock()
        self.info: dict[str, Any] = {"backend": "diffusion", "bundle": str(checkpoint or ""), "bundle_hash": "",
                                     "native_width": 0, "native_height": 0}

    def load(self) -> Any:
        """Import the pipeline and load the bundle (once); BackendUnavailable says what is missing."""
        with self._load_lock:
            if self._pipeline is None:
                try:
                    from drivesim.models.checkpoint import resolve_checkpoint
                    from drivesim.models.bundle import bundle_sha256
                    from drivesim.pipeline.generate import VideoPipeline, load_checkpoint
                    from drivesim.pipeline.options import GenerateOptions, arithmetic_record
                except ImportError as err:
                    raise BackendUnavailable(f"the diffusion backend cannot be imported ({err}); "
                                             "use --backend schematic") from err
                # seed stays None: each call seeds through its own engine (ScenarioEngine(scenario, seed)).
                options = GenerateOptions(**{**self.options, "device": self.device, "progress": False, "seed": None})
                try:
                    self.checkpoint = resolve_checkpoint(self.checkpoint)
                    bundle = load_checkpoint(self.checkpoint, self.device)
                    digest = bundle_sha256(self.checkpoint)
                except BundleError as err:
                    raise BackendUnavailable(str(err)) from err
                self._pipeline = VideoPipeline(bundle, options)
                cfg = bundle.config
                h, w = cfg.output_size if options.super_resolution else cfg.frame_size
                self.info.update(bundle=cfg.name, bundle_hash=digest, native_width=w, native_height=h,
                                 arithmetic=arithmetic_record(options.device, options.precision, options.student))
        return self._pipeline

    def generate(self, scenario: Scenario, seed: int,
                 cancelled: Cancelled) -> Iterator[tuple[np.ndarray, FrameConditions]]:
        from drivesim.scenario.engine import ScenarioEngine

        # The pipeline checks `cancelled` before every network forward: a cancel stops it within one
        # sampler step, and the iterator then ends without another frame.
        frames = self.load().frames(scenario, ScenarioEngine(scenario, seed=seed), cancelled=cancelled)
        try:
            for frame in frames:
                yield frame.image, frame.labels
        finally:
            frames.close()

    def session(self, header: Scenario, seed: int) -> SessionStepper:
        """A `drivesim.pipeline.PipelineSession`: each step returns exactly its conditions' frames
        (docs/pipeline.md, "Closed-loop sessions")."""
        return _CancellableSession(self.load().session(header, seed=seed))


class _CancellableSession:
    """A PipelineSession whose steps stop at the next network forward once the call is cancelled,
    as `Generate` does: the session's run context checks its `cancelled` flag before every forward.
    A cancelled step leaves the session half-advanced; the call has ended, so it is never stepped again."""

    def __init__(self, inner: Any):
        self.inner = inner

    def step(self, conditions: list[FrameConditions], cancelled: Cancelled = lambda: False) -> list[np.ndarray]:
        from drivesim.pipeline.context import Cancelled as RunCancelled

        self.inner.run.cancelled = cancelled
        try:
            return self.inner.step(conditions)
        except RunCancelled:
            return []
        finally:
            self.inner.run.cancelled = None


BACKENDS = ("diffusion", "schematic")


def make_generator(backend: str, checkpoint: str | Path | None = None, device: str = "cpu",
                   precision: str = "auto", student: bool = False) -> FrameGenerator:
    """The named backend, ready to serve (the diffusion bundle is loaded now, so errors show at start-up);
    `student`: the bundle's few-step students sample (GenerateOptions.student)."""
    if backend == "schematic":
        return SchematicGenerator()
    if backend == "diffusion":
        generator = PipelineGenerator(checkpoint, device, options={"precision": precision, "student": student})
        generator.load()
        return generator
    raise DrivesimError(f"unknown backend '{backend}'; use one of {', '.join(BACKENDS)}")


# --- scheduling ----------------------------------------------------------------------------

class FairLock:
    """A FIFO lock whose waiters can give up: turns go in arrival order, a cancelled waiter leaves."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._queue: deque[threading.Event] = deque()

    def acquire(self, cancelled: Cancelled = lambda: False, poll_s: float = 0.05) -> bool:
        """True once held; False if `cancelled()` turned true while waiting (then it is not held)."""
        with self._mutex:
            if not self._held and not self._queue:
                self._held = True
                return True
            turn = threading.Event()
            self._queue.append(turn)
        while not turn.wait(poll_s):
            if cancelled():
                with self._mutex:
                    if not turn.is_set():
                        self._queue.remove(turn)
                        return False
                # Handed the lock just as we gave up: pass it on.
                self.release()
                return False
        return True

    def release(self) -> None:
        with self._mutex:
            if self._queue:
                self._queue.popleft().set()  # hand over directly: no barging past the queue
            else:
                self._held = False


class _SerializedStepper:
    def __init__(self, inner: SessionStepper, lock: FairLock):
        self.inner, self.lock = inner, lock

    def step(self, conditions: list[FrameConditions], cancelled: Cancelled = lambda: False) -> list[np.ndarray]:
        if not self.lock.acquire(cancelled):  # a cancelled call leaves the queue at once
            return []
        try:
            return self.inner.step(conditions, cancelled)
        finally:
            self.lock.release()


class SerializedGenerator:
    """Shares a non-thread-safe backend between calls: one frame (or session step) at a time, FIFO."""

    thread_safe = True

    def __init__(self, inner: FrameGenerator):
        self.inner = inner
        self.lock = FairLock()

    @property
    def info(self) -> dict[str, Any]:
        return self.inner.info

    def generate(self, scenario: Scenario, seed: int,
                 cancelled: Cancelled) -> Iterator[tuple[np.ndarray, FrameConditions]]:
        frames = self.inner.generate(scenario, seed, cancelled)
        try:
            while True:
                if not self.lock.acquire(cancelled):
                    return
                try:
                    # Handed the lock just as the call ended: do not compute a frame nobody reads.
                    item = None if cancelled() else next(frames, None)
                finally:
                    self.lock.release()
                if item is None:
                    return
                yield item
        finally:
            getattr(frames, "close", lambda: None)()

    def session(self, header: Scenario, seed: int) -> SessionStepper:
        self.lock.acquire()
        try:
            stepper = self.inner.session(header, seed)
        finally:
            self.lock.release()
        return _SerializedStepper(stepper, self.lock)


def shareable(generator: FrameGenerator) -> FrameGenerator:
    """The generator itself when it is thread-safe, else wrapped so calls take turns."""
    return generator if getattr(generator, "thread_safe", False) else SerializedGenerator(generator)
