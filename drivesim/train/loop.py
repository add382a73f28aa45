"""The one training loop, on HF accelerate: EMA, resumable atomic state, progress bar, CSV log, previews.

    drivesim synth-data -o data/synth --clips 200 --frames 40 --size 256x512
    drivesim train autoencoder --data data/synth --config tiny --out checkpoints/default
    drivesim train image --data data/synth --out checkpoints/default --resume   # continue after Ctrl-C
    accelerate launch --multi_gpu --num_processes 4 -m drivesim.cli train video --data data/synth --out BUNDLE

Every stage (drivesim.train.stages) runs through `train`: it creates the bundle from --config when
it does not exist, checks that the stages this one builds on were trained, trains the stage's
parameters (everything else frozen), and at the end writes the EMA weights into the bundle
(save_bundle, atomic) and records the stage in BUNDLE/stages.json. State for --resume, the loss
log and previews live in BUNDLE/.train/RUN/. Randomness is a function of (seed, step, process)
and the data order of (seed, epoch), so a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from drivesim.errors import DrivesimError
from drivesim.output.files import atomic_write_text, write_png
from drivesim.train.distill import DISTILL_STAGES
from drivesim.train.provenance import run_record
from drivesim.train import state as S
from drivesim.train.latent_cache import LatentCache
from drivesim.train.stages import (STAGES, LatentStageConfig, Stage, StageConfig, Trainee, get_stage,
                                   latent_scaling_factor)

__all__ = ["TrainOptions", "TrainResult", "Run", "prepare_run", "train", "SAVE_DTYPES", "TRAIN_DIR"]

TRAIN_DIR = ".train"  # inside the bundle; holds one folder per stage run
SAVE_DTYPES = {"fp16": torch.float16, "fp32": torch.float32}
RESUME_CHANGEABLE = {"steps", "preview_steps"}  # options a resumed run may change; others must match


@dataclass
class TrainOptions:
    """One `drivesim train` invocation. None = the stage's default (or, with --resume, the saved value)."""

    stage: str
    data: Path
    out: Path
    config: str | None = None  # preset used to create the bundle when --out does not exist yet
    init_from: Path | None = None  # a trained bundle whose matching tensors the new bundle starts from
    resume: bool = False
    steps: int | None = None
    batch: int | None = None
    lr: float | None = None
    seed: int | None = None
    phase: str | None = None  # upsampler: spatial | temporal
    overrides: dict[str, str] = field(default_factory=dict)  # --set NAME=VALUE (stage config fields)
    preview_every: int = 250  # 0 = no previews
    log_every: int = 10
    save_every: int = 250  # training state for --resume (also written at the end and on Ctrl-C)
    workers: int = 0  # DataLoader worker processes
    save_dtype: str = "fp16"  # dtype of the whole bundle written at the end
    mixed_precision: str | None = None  # no | fp16 | bf16; None = accelerate's default / `accelerate launch` flag
    threads: int | None = None  # torch CPU threads; 1 is far faster on a CPU shared with other busy processes
    cpu: bool = False  # train on the CPU even where GPUs exist (and connect `torchrun` CPU processes)
    progress: bool = True


@dataclass
class TrainResult:
    stage: str
    run_dir: Path
    start_step: int
    step: int
    losses: dict[str, float]  # mean of the last log interval
    steps_per_s: float
    notes: list[str]
    invalidated: list[str]
    is_main_process: bool = True  # under `accelerate launch`, only the main process reports


def train(options: TrainOptions) -> TrainResult:
    """Run (or continue) one stage; see the module docstring."""
    return prepare_run(options).fit()


# --- setting up a run ----------------------------------------------------------------------------

def _stage_config(stage: Stage, options: TrainOptions, phase: str | None,
                  saved: dict[str, Any] | None) -> StageConfig:
    """Defaults <- saved run (with --resume) <- explicit flags; flags that contradict a saved run are errors."""
    cls = stage.config
    defaults = cls()
    explicit: dict[str, Any] = {k: v for k, v in (("steps", options.steps), ("batch", options.batch),
                                                  ("lr", options.lr), ("seed", options.seed)) if v is not None}
    names = [f.name for f in dataclasses.fields(cls)]
    for key, text in options.overrides.items():
        if key not in names:
            raise DrivesimError(f"--set {key}: stage {stage.name!r} has no setting {key!r}; its settings: "
                                f"{', '.join(names)}")
        explicit[key] = _parse_value(key, text, getattr(defaults, key))
    if phase is not None:
        explicit["phase"] = phase
    base = dict(saved or {})
    if saved is not None:
        for key, value in explicit.items():
            if key not in RESUME_CHANGEABLE and key in base and base[key] != value:
                flag = f"--{key}" if key in ("steps", "batch", "lr", "seed") else f"--set {key}"
                raise DrivesimError(f"{flag} {value} differs from the saved run's {base[key]}; a resumed run keeps "
                                    "its settings: drop the flag, or delete the run's state to start over")
    try:
        cfg = cls(**{**{k: v for k, v in base.items() if k in names}, **explicit})
    except TypeError as err:
        raise DrivesimError(f"stage {stage.name!r}: bad settings ({err})") from err
    for key in ("steps", "batch"):
        if getattr(cfg, key) < 1:
            raise DrivesimError(f"--{key} must be >= 1, got {getattr(cfg, key)}")
    if not cfg.lr > 0:
        raise DrivesimError(f"--lr must be > 0, got {cfg.lr}")
    return cfg


def _parse_value(key: str, text: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return text.lower() in ("true", "1", "yes")
        return type(default)(text)
    except ValueError:
        raise DrivesimError(f"--set {key}={text}: expected a {type(default).__name__}") from None


def _ensure_bundle(options: TrainOptions, accelerator, dtype: torch.dtype, seed: int) -> str:
    """The bundle's config name; creates the bundle from --config when absent (random weights, or
    those of --init-from where names and shapes match)."""
    from drivesim.models.bundle import CONFIG_FILE, build_bundle, grow_bundle, read_bundle_config, save_bundle
    from drivesim.models.configs import CONFIGS, get_config

    out = Path(options.out)
    accelerator.wait_for_everyone()  # every process decides on the same folder state
    exists = (out / CONFIG_FILE).is_file()
    accelerator.wait_for_everyone()
    if exists:
        name = read_bundle_config(out).name
        if options.config is not None and options.config != name:
            raise DrivesimError(f"bundle {out} was created from config {name!r}, not {options.config!r}; drop "
                                "--config or choose another --out")
        return name
    if out.exists() and (not out.is_dir() or any(p.name != TRAIN_DIR for p in out.iterdir())):
        raise DrivesimError(f"{out} exists but is not a bundle (no config.yaml); choose an empty or new --out folder")
    if options.config is None:
        raise DrivesimError(f"bundle {out} does not exist yet; pass --config NAME to create it "
                            f"(one of: {', '.join(sorted(CONFIGS))})")
    config = get_config(options.config)
    if accelerator.is_main_process:
        if options.init_from is None:
            save_bundle(build_bundle(config, seed=seed), out, dtype=dtype)
            accelerator.print(f"created bundle {out} from config {config.name!r} (random weights)")
        else:
            bundle, fresh = grow_bundle(options.init_from, config, seed=seed)
            save_bundle(bundle, out, dtype=dtype)
            # its stages stay trained: the new tensors start as no-ops or are retrained by this run
            if (Path(options.init_from) / S.RECORD_FILE).is_file():
                shutil.copyfile(Path(options.init_from) / S.RECORD_FILE, out / S.RECORD_FILE)
            accelerator.print(f"created bundle {out} from config {config.name!r}, weights from {options.init_from} "
                              f"({len(fresh)} new tensor(s){': ' + ', '.join(fresh[:4]) if fresh else ''}"
                              f"{' ...' if len(fresh) > 4 else ''})")
    accelerator.wait_for_everyone()
    return config.name


def _check_order(stage: Stage, phase: str | None, out: Path) -> None:
    record = S.read_record(out)["stages"]
    missing = [name for name in stage.requires if name not in record]
    if missing:
        raise DrivesimError(
            f"stage {stage.name!r} builds on {' and '.join(repr(m) for m in missing)}, which bundle {out} has not "
            f"trained yet; run `drivesim train {missing[0]} --data DIR --out {out}` first "
            f"(stage order: {', '.join(STAGES)})")
    if phase is not None and phase != stage.phases[0]:
        before = stage.phases[stage.phases.index(phase) - 1]
        if before not in record.get(stage.name, {}).get("phases", {}):
            raise DrivesimError(f"{stage.name} --phase {phase} builds on --phase {before}, which bundle {out} has "
                                f"not trained yet; run `drivesim train {stage.name} --phase {before} ...` first")


def prepare_run(options: TrainOptions) -> "Run":
    """Validate the inputs, create or load the bundle, build the stage's models and data, load --resume state."""
    from accelerate import Accelerator

    from drivesim.data.clips import scan_clips
    from drivesim.models.bundle import load_bundle

    stage = DISTILL_STAGES.get(options.stage) or get_stage(options.stage)
    if options.save_dtype not in SAVE_DTYPES:
        raise DrivesimError(f"--save-dtype must be one of {', '.join(SAVE_DTYPES)}, got {options.save_dtype!r}")
    phase = options.phase
    if len(stage.phases) > 1:
        phase = phase or stage.phases[0]
        if phase not in stage.phases:
            raise DrivesimError(f"--phase must be one of {', '.join(stage.phases)} for {stage.name}, got {phase!r}")
    elif phase is not None:
        raise DrivesimError(f"stage {stage.name!r} has no phases; drop --phase (only: "
                            f"{', '.join(n for n, s in STAGES.items() if len(s.phases) > 1)})")
    for name in ("log_every", "save_every"):
        if getattr(options, name) < 1:
            raise DrivesimError(f"--{name.replace('_', '-')} must be >= 1")

    if options.threads is not None:
        if options.threads < 1:
            raise DrivesimError(f"--threads must be >= 1, got {options.threads}")
        torch.set_num_threads(options.threads)
    accelerator = Accelerator(mixed_precision=options.mixed_precision, cpu=options.cpu)
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched > 1 and accelerator.num_processes != launched:  # N unconnected copies would overwrite each other
        raise DrivesimError(f"this is one of {launched} launched processes, but accelerate did not connect them "
                            "(no GPU found): add --cpu to train on CPUs, or launch on GPUs")

    clips = scan_clips(options.data)  # clear errors for a missing or empty data folder
    out = Path(options.out)
    run_dir = out / TRAIN_DIR / stage.run_name(phase)
    saved_meta, saved_tensors = None, None
    if S.has_state(run_dir):
        if not options.resume:
            raise DrivesimError(f"{run_dir} holds the saved state of an earlier {stage.name} run (step "
                                f"{_saved_step(run_dir)}); pass "
                                f"--resume to continue it, or delete {run_dir} to start over")
        saved_meta, saved_tensors = S.load_state(run_dir)
    cfg = _stage_config(stage, options, phase, saved_meta["config"] if saved_meta else None)

    _ensure_bundle(options, accelerator, SAVE_DTYPES[options.save_dtype], cfg.seed)
    _check_order(stage, phase, out)
    bundle = load_bundle(out)
    trainee = stage.setup(bundle, cfg, str(options.data), clips)
    trainee.clips = clips
    if options.resume and saved_meta is None:
        trainee.notes.append(f"no saved state in {run_dir}: starting at step 0")
    return Run(stage, options, cfg, trainee, accelerator, run_dir, saved_meta, saved_tensors)


def _saved_step(run_dir: Path) -> Any:
    import json

    try:
        return json.loads((run_dir / S.STATE_FILE).read_text(encoding="utf-8")).get("step", "?")
    except (OSError, ValueError):
        return "?"


def step_generator(seed: int, step: int, process: int) -> torch.Generator:
    """The CPU generator of one training step: every random draw of the step comes from it."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, step, process]).generate_state(1)[0]))


# --- the run -------------------------------------------------------------------------------------

class Run:
    """One stage run on an Accelerator: `fit()` trains from the start (or saved) step to cfg.steps."""

    def __init__(self, stage: Stage, options: TrainOptions, cfg: StageConfig, trainee: Trainee, accelerator,
                 run_dir: Path, saved_meta: dict[str, Any] | None, saved_tensors: dict[str, dict] | None):
        from torch.utils.data import DataLoader

        from drivesim.train.datasets import EpochSampler
        from drivesim.train.ema import EMA

        self.stage, self.options, self.cfg, self.t = stage, options, cfg, trainee
        self.accelerator, self.run_dir = accelerator, run_dir
        acc = accelerator
        t = trainee
        t.device = acc.device
        # 1. freeze everything but the stage's parameters
        model = t.model
        model.requires_grad_(False)
        named = dict(model.named_parameters())
        self.params = [named[n] for n in t.trainable]
        for p in self.params:
            p.requires_grad_(True)
        for helper in t.frozen.values():
            helper.requires_grad_(False).eval().to(acc.device)
        if isinstance(cfg, LatentStageConfig) and cfg.cache_latents:
            with acc.main_process_first():  # one process encodes, the others load its file
                t.latents = LatentCache.build(t.frozen["autoencoder"], str(options.data), t.clips,
                                              t.bundle.config.frame_size, run_dir.parent / "latents", acc.device,
                                              progress=options.progress and acc.is_main_process)
        self.optimizer = torch.optim.AdamW(self.params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.disc_optimizer = None
        if t.disc is not None:
            self.disc_optimizer = torch.optim.AdamW(t.disc.parameters(), lr=cfg.disc_lr, betas=(0.5, 0.9))
        # 2. saved state (before prepare: accelerate moves optimizer state to the device)
        self.start_step, self.elapsed_before = 0, 0.0
        self.elapsed_s = 0.0
        if saved_meta is not None:
            self._load(saved_meta, saved_tensors, named)
        # 3. data: a fresh permutation per epoch from (seed, epoch)
        self.sampler = EpochSampler(len(t.dataset), cfg.seed)
        drop_last = len(t.dataset) >= cfg.batch * acc.num_processes
        loader = DataLoader(t.dataset, batch_size=cfg.batch, sampler=self.sampler, collate_fn=t.collate,
                            num_workers=options.workers, drop_last=drop_last)
        # 4. accelerate: device placement, DDP, mixed precision
        if t.disc is None:
            t.model, self.optimizer, self.loader = acc.prepare(model, self.optimizer, loader)
        else:
            t.model, self.optimizer, self.loader, t.disc, self.disc_optimizer = acc.prepare(
                model, self.optimizer, loader, t.disc, self.disc_optimizer)
        self.ema = t.ema = EMA([(n, named[n]) for n in t.trainable], cfg.ema_decay)
        if saved_meta is not None:
            self.ema.load_state_dict(saved_tensors["ema"], saved_meta["ema_updates"])
        self.step = self.start_step
        self.preview_batch: dict[str, Any] | None = None
        self.last_losses: dict[str, float] = {}
        self.last_rate = 0.0

    def _load(self, meta: dict[str, Any], tensors: dict[str, dict], named: dict[str, nn.Parameter]) -> None:
        model_state = tensors["model"]
        missing = sorted(set(self.t.trainable) - set(model_state))
        if missing:
            raise DrivesimError(f"saved state in {self.run_dir} does not fit this model (no {missing[0]!r}); "
                                f"delete {self.run_dir} to start over")
        with torch.no_grad():
            for name in self.t.trainable:
                named[name].copy_(model_state[name])
        self.optimizer.load_state_dict(S.unflatten_optimizer(tensors["optimizer"], meta["optimizer"]))
        if self.t.disc is not None and "disc" in tensors:
            self.t.disc.load_state_dict(tensors["disc"])
            self.disc_optimizer.load_state_dict(S.unflatten_optimizer(tensors["disc_optimizer"],
                                                                      meta["disc_optimizer"]))
        self.start_step = int(meta["step"])
        self.elapsed_before = float(meta.get("elapsed_s", 0.0))
        self.elapsed_s = self.elapsed_before

    # --- training ----------------------------------------------------------------------------

    def fit(self) -> TrainResult:
        from tqdm.auto import tqdm

        acc, cfg, opts = self.accelerator, self.cfg, self.options
        for note in self.t.notes:
            acc.print(f"note: {note}")
        if self.start_step >= cfg.steps:
            if self._recorded():
                acc.print(f"{self.run_dir}: already trained to step {self.start_step} of {cfg.steps}; nothing to do "
                          "(pass a larger --steps with --resume to train longer)")
                return self._result([])
            return self._finish()  # stopped between the last save and writing the bundle
        log = _CsvLog(self.run_dir / "log.csv", self.start_step) if acc.is_main_process else None
        bar = tqdm(total=cfg.steps, initial=self.start_step, desc=self.run_dir.name, unit="step",
                   disable=not (opts.progress and acc.is_main_process), dynamic_ncols=True)
        per_epoch = max(1, len(self.loader))
        epoch, offset = divmod(self.step, per_epoch)
        started = time.perf_counter()
        window_start, window_step, sums, count = started, self.step, {}, 0
        on_term = _interrupt_on_sigterm()
        try:
            while self.step < cfg.steps:
                # accelerate's loader sets its sampler's epoch from its own counter on every pass: set both
                if hasattr(self.loader, "set_epoch"):
                    self.loader.set_epoch(epoch)
                self.sampler.set_epoch(epoch)
                if hasattr(self.t.dataset, "set_epoch"):
                    self.t.dataset.set_epoch(epoch)
                batches = acc.skip_first_batches(self.loader, offset) if offset else self.loader
                for batch in batches:
                    if self.preview_batch is None:
                        self.preview_batch = batch
                    losses = self.train_step(batch)
                    self.step += 1
                    for key, value in losses.items():
                        sums[key] = sums.get(key, 0.0) + value
                    count += 1
                    bar.update(1)
                    bar.set_postfix(loss=f"{losses['loss']:.4f}", refresh=False)
                    last = self.step >= cfg.steps
                    if self.step % opts.log_every == 0 or last:
                        now = time.perf_counter()
                        self.last_losses = self._reduce({k: v / count for k, v in sums.items()})
                        self.last_rate = (self.step - window_step) / max(now - window_start, 1e-9)
                        if log is not None:
                            log.write({"step": self.step, "epoch": epoch, **self.last_losses,
                                       "lr": self.optimizer.param_groups[0]["lr"],
                                       "steps_per_s": round(self.last_rate, 4),
                                       "elapsed_s": round(self.elapsed_before + now - started, 2)})
                        window_start, window_step, sums, count = now, self.step, {}, 0
                    if opts.preview_every and (self.step % opts.preview_every == 0 or last):
                        self._preview()
                    if self.step % opts.save_every == 0 and not last:
                        self._save(self.elapsed_before + time.perf_counter() - started)
                    if last:
                        break
                epoch, offset = epoch + 1, 0
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (a scheduler's preemption): keep the progress
            if self.step > self.start_step:
                self._save(self.elapsed_before + time.perf_counter() - started)
                if acc.is_main_process:
                    print(f"\nsaved the state at step {self.step}; continue with the same command plus --resume",
                          file=sys.stderr)
            raise
        finally:
            bar.close()
            on_term()
        self._save(self.elapsed_before + time.perf_counter() - started)
        return self._finish()

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        """One optimisation step of the stage on `batch` (loss, backward, clipping, optimiser, EMA): the
        loop's own step, public so `drivesim bench --mfu train` times exactly what training runs."""
        acc, cfg, t = self.accelerator, self.cfg, self.t
        generator = step_generator(cfg.seed, self.step, acc.process_index)
        lr = cfg.lr * min(1.0, (self.step + 1) / cfg.warmup_steps) if cfg.warmup_steps > 0 else cfg.lr
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        t.model.train()
        if t.disc is not None:
            t.disc.train()
        with acc.autocast():
            losses = self.stage.loss(t, batch, generator, self.step)
        values = {k: float(v.detach()) for k, v in losses.items()}
        if not math.isfinite(values["loss"]):
            raise DrivesimError(f"{self.stage.name}: the loss became {values['loss']} at step {self.step + 1}; "
                                "lower --lr (or check the data), then start over or --resume from the last save")
        self.optimizer.zero_grad(set_to_none=True)
        acc.backward(losses["loss"])
        if cfg.grad_clip > 0:
            acc.clip_grad_norm_(self.params, cfg.grad_clip)
        self.optimizer.step()
        loss_d = losses.get("loss_d")
        if loss_d is not None and loss_d.requires_grad:
            self.disc_optimizer.zero_grad(set_to_none=True)
            acc.backward(loss_d)
            self.disc_optimizer.step()
        self.ema.update()
        return values

    def _reduce(self, values: dict[str, float]) -> dict[str, float]:
        """Mean over processes (every process logs at the same steps)."""
        if self.accelerator.num_processes == 1:
            return {k: round(v, 6) for k, v in values.items()}
        keys = list(values)  # the same order on every process
        mean = self.accelerator.reduce(torch.tensor([values[k] for k in keys], device=self.accelerator.device),
                                       "mean")
        return {k: round(float(v), 6) for k, v in zip(keys, mean)}

    # --- previews, state, result -------------------------------------------------------------

    def _preview(self) -> None:
        from drivesim.train.previews import PREVIEWS

        if not self.accelerator.is_main_process or self.preview_batch is None:
            return
        module = self.t.module
        module.eval()
        try:
            with torch.no_grad(), self.ema.applied():
                image = PREVIEWS[self.stage.name](self.t, self.preview_batch,
                                                  torch.Generator().manual_seed(self.cfg.seed))
        finally:
            module.train()
        write_png(self.run_dir / "previews" / f"step-{self.step:08d}.png", image)

    def _save(self, elapsed: float) -> None:
        self.elapsed_s = elapsed  # the stage's wall time over every resume, for its stages.json record
        if not self.accelerator.is_main_process:
            return
        opt_tensors, opt_meta = S.flatten_optimizer(self.optimizer.state_dict())
        tensors = {"model": {n: p.detach() for n, p in zip(self.t.trainable, self.params)},
                   "ema": self.ema.state_dict(), "optimizer": opt_tensors}
        meta: dict[str, Any] = {
            "stage": self.stage.name, "config": dataclasses.asdict(self.cfg), "ema_updates": self.ema.num_updates,
            "optimizer": opt_meta, "elapsed_s": round(elapsed, 2), "data": str(self.options.data),
            "processes": self.accelerator.num_processes, "mixed_precision": str(self.accelerator.mixed_precision),
            "randomness": "step generators from (seed, step, process); data order from (seed, epoch)",
        }
        if self.t.disc is not None:
            disc_tensors, disc_meta = S.flatten_optimizer(self.disc_optimizer.state_dict())
            tensors["disc"] = self.accelerator.unwrap_model(self.t.disc).state_dict()
            tensors["disc_optimizer"] = disc_tensors
            meta["disc_optimizer"] = disc_meta
        S.save_state(self.run_dir, self.step, tensors, meta)

    def _finish(self) -> TrainResult:
        """EMA weights into the bundle's module, bundle written, stage recorded."""
        from drivesim.models.bundle import save_bundle

        acc = self.accelerator
        acc.wait_for_everyone()
        notes: list[str] = []
        invalidated: list[str] = []
        if acc.is_main_process:
            bundle = self.t.bundle
            self.ema.copy_to_params()
            if self.stage.name == "autoencoder" and self.cfg.set_scaling_factor:
                factor = latent_scaling_factor(self.t.module, self.t.dataset)
                bundle.config.autoencoder.scaling_factor = factor
                notes.append(f"latent scaling_factor set to {factor:.4f} (1 / std of the latents)")
            notes += self.stage.finish(self.t) if self.stage.finish is not None else []
            # Only what this stage trained (and config.yaml for the autoencoder's scaling factor, a student's
            # entry): a stage run beside this one on the same bundle keeps its own parts.
            save_bundle(bundle, self.options.out, dtype=SAVE_DTYPES[self.options.save_dtype],
                        parts=self.stage.parts, write_config=self.stage.writes_config)
            phase = getattr(self.cfg, "phase", None)
            run = run_record(self.stage.name, dataclasses.asdict(self.cfg), self.options, Path(self.options.out),
                             self.step, self.start_step, self.elapsed_s, acc.num_processes,
                             str(acc.mixed_precision)) | self.t.record
            info: dict[str, Any] = {"steps": self.step, "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                    "data": run["data"]["path"], "run": run}
            if phase is not None:
                info["phases"] = {phase: {"steps": self.step}}
            invalidated = S.record_stage(self.options.out, self.stage.name, info, self.stage.invalidates)
            if invalidated:
                notes.append(f"stage(s) {', '.join(invalidated)} were trained on the old {self.stage.name} weights: "
                             "train them again")
            for note in notes:
                acc.print(f"note: {note}")
        acc.wait_for_everyone()
        return self._result(invalidated, notes)

    def _recorded(self) -> bool:
        """This stage (and phase) is in BUNDLE/stages.json."""
        entry = S.read_record(self.options.out)["stages"].get(self.stage.name)
        phase = getattr(self.cfg, "phase", None)
        return entry is not None and (phase is None or phase in entry.get("phases", {}))

    def _result(self, invalidated: list[str], notes: list[str] | None = None) -> TrainResult:
        return TrainResult(stage=self.run_dir.name, run_dir=self.run_dir, start_step=self.start_step,
                           step=self.step, losses=self.last_losses, steps_per_s=self.last_rate,
                           notes=[*self.t.notes, *(notes or [])], invalidated=invalidated,
                           is_main_process=self.accelerator.is_main_process)


def _interrupt_on_sigterm() -> Callable[[], None]:
    """Turn SIGTERM into KeyboardInterrupt while training (so the state is saved); returns the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, previous)


class _CsvLog:
    """BUNDLE/.train/RUN/log.csv: one row per log interval. A resumed run first drops the rows
    after its saved step (those steps are trained again)."""

    def __init__(self, path: Path, start_step: int):
        self.path = path
        self.fields: list[str] | None = None
        rows: list[dict[str, str]] = []
        if start_step > 0 and path.is_file():
            with open(path, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                self.fields = list(reader.fieldnames or []) or None
                rows = [r for r in reader if r.get("step", "").isdigit() and int(r["step"]) <= start_step]
        if self.fields is not None:
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, self.fields)
            writer.writeheader()
            writer.writerows(rows)
            atomic_write_text(path, buffer.getvalue())
        elif path.exists():
            path.unlink()

    def write(self, row: dict[str, Any]) -> None:
        new = self.fields is None
        if new:
            self.fields = list(row)
            self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, self.fields, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)
