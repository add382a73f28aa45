"""Counted FLOPs of drivesim's networks, per forward and per output frame, and the peak they are set against.

FLOPs come from torch's own counter (torch.utils.flop_counter.FlopCounterMode: a multiply-add
is 2 FLOPs; convolutions, matrix products and attention are counted, element-wise work is not).
`forward_flops` counts one forward of each network at the input sizes a config's pipeline gives
it, on the meta device (no memory, no time: the `paper` config is counted on any laptop);
`flops_per_output_frame` turns that into the steady-state cost of one output frame per stage;
`NetworkCalls` records the forwards of a real run, shape by shape, and counts each shape once.
Model FLOP utilisation (MFU) = counted FLOP/s achieved / the device's peak (`peak_tflops`).

    python -c "from drivesim.bench.flops import *; from drivesim.models.configs import get_config; \
        c = get_config('paper'); print({k: round(v / 1e12, 2) for k, v in flops_per_output_frame(c, forward_flops(c), 50, 50).items()})"
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from drivesim.conditions.encode import empty_conditions, upsampler_conditions
from drivesim.models.configs import BundleConfig
from drivesim.pipeline.decode import DECODE_OVERLAP
from drivesim.pipeline.upsample import UPSAMPLE_OVERLAP

__all__ = ["NETWORKS", "STAGE_NETWORK", "NetworkCalls", "count_flops", "example_inputs", "flops_per_output_frame",
           "forward_flops", "peak_tflops"]

NETWORKS = ("unet", "interpolator", "decoder", "upsampler")
STAGE_NETWORK = {"keyframes": "unet", "interpolate": "interpolator", "decode": "decoder", "upsample": "upsampler"}

# Dense bf16 tensor-core peaks from the vendor's datasheets (TFLOP/s, without 2:4 sparsity), matched
# by the first name part found in torch.cuda.get_device_name(). The H200 has the H100 SXM's chip.
PEAK_BF16_TFLOPS = (
    ("H100 PCIe", 756.0, "H100 PCIe"), ("H100 NVL", 835.0, "H100 NVL"), ("H100", 989.0, "H100 SXM"),
    ("GH200", 989.0, "GH200"), ("H200", 989.0, "H200 (the H100 SXM's chip)"), ("A100", 312.0, "A100"),
)


def peak_tflops(device_name: str, override: float | None = None) -> tuple[float | None, str]:
    """(peak dense bf16 TFLOP/s, where it came from) for a device name; (None, why) when unknown."""
    if override is not None:
        return float(override), "--peak-tflops"
    for key, value, label in PEAK_BF16_TFLOPS:
        if key.lower() in device_name.lower():
            return value, f"datasheet dense bf16, {label}"
    return None, f"no peak known for {device_name!r}: pass --peak-tflops"


def _count_cpu_attention() -> None:
    """torch counts the CUDA attention kernels but not the CPU one: give it the CUDA kernel's formula
    (both take query, key, value first; the backward grad_out, query, key, value)."""
    from torch.utils.flop_counter import flop_registry, register_flop_formula

    aten = torch.ops.aten
    for cpu, cuda in (("_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_flash_attention"),
                      ("_scaled_dot_product_flash_attention_for_cpu_backward",
                       "_scaled_dot_product_flash_attention_backward")):
        target, formula = getattr(aten, cpu, None), flop_registry.get(getattr(aten, cuda, None))
        if target is not None and formula is not None and target not in flop_registry:
            register_flop_formula(target, get_raw=True)(formula)  # `formula` already reads shapes


def count_flops(fn, *args: Any, **kwargs: Any) -> int:
    """FLOPs of one call fn(*args, **kwargs), counted by torch."""
    _count_cpu_attention()
    with FlopCounterMode(display=False) as counter:
        fn(*args, **kwargs)
    return int(counter.get_total_flops())


def example_inputs(config: BundleConfig, network: str, device: str | torch.device) -> tuple:
    """The arguments the pipeline gives `network` in one forward (batch 1, no guidance): keyframe clips of
    clip_frames, interpolation windows of factor + 1, decoder windows, upsampler chunks at the output size.
    Values are zeros: FLOPs depend on shapes only (absent layout maps cost what null maps cost)."""
    zeros = lambda *shape, **kw: torch.zeros(*shape, device=device, **kw)  # noqa: E731
    channels, (h, w) = config.autoencoder.latent_channels, config.latent_size
    if network in ("unet", "interpolator"):
        model = getattr(config, network)
        frames = config.clip_frames if network == "unet" else config.interpolation_factor + 1
        cond = empty_conditions(1, frames, device)
        if model.use_context:
            cond = cond.replace(context=zeros(1, frames, channels, h, w), context_mask=zeros(1, frames))
        if model.use_rate:
            cond = cond.replace(rate=zeros(1, dtype=torch.long))
        return zeros(1, frames, channels, h, w), zeros(1, dtype=torch.long), cond
    if network == "decoder":
        return (zeros(1, config.decoder_window, channels, h, w),)
    if network == "upsampler":
        shape = (1, config.upsampler_chunk_frames, config.upsampler.channels, *config.output_size)
        return zeros(*shape), zeros(1, dtype=torch.long), upsampler_conditions(zeros(*shape), 0)
    raise ValueError(f"unknown network {network!r}; one of {NETWORKS}")


@torch.no_grad()
def forward_flops(config: BundleConfig) -> dict[str, int]:
    """FLOPs of one forward of each network at its pipeline input size, counted on the meta device."""
    from drivesim.models.bundle import construct_models

    with torch.device("meta"):
        models = construct_models(config)
    out = {}
    for name in NETWORKS:
        # .to: a few scalars are made on the CPU even under the meta device; no grad: torch's module
        # tracker refuses a parameter's view that needs a gradient but has no history
        model = models[name].to("meta").requires_grad_(False)
        out[name] = count_flops(model, *example_inputs(config, name, "meta"))
    return out


def flops_per_output_frame(config: BundleConfig, forward: dict[str, int], steps: int, sr_steps: int,
                           guidance: float = 1.0) -> dict[str, float]:
    """Steady-state FLOPs per output frame of each stage, from the FLOPs of one forward per network.

    Per output frame: keyframe clips of clip_frames sample clip_frames - S new keyframes (S = 2
    context frames), each keyframe_stride output frames apart; every interpolation pass r fills
    factor^r segments per keyframe interval with one window each; decoder windows and upsampler
    chunks advance by their length less the overlap. Label guidance (scale != 1) doubles the
    batch of the two latent models; the decoder runs once, the others once per sampling step."""
    stride, factor = config.keyframe_stride, config.interpolation_factor
    context = min(config.context_frames, 2, config.clip_frames - 1) if config.unet.use_context else 0
    batch = 1 if guidance == 1.0 else 2
    segments = sum(factor ** r for r in range(config.interpolation_passes))  # per keyframe interval
    decode_window = config.decoder_window - min(DECODE_OVERLAP, config.decoder_window - 1)
    upsample_chunk = config.upsampler_chunk_frames - min(UPSAMPLE_OVERLAP, config.upsampler_chunk_frames - 1)
    return {
        "keyframes": forward["unet"] * steps * batch / ((config.clip_frames - context) * stride),
        "interpolate": forward["interpolator"] * steps * batch * segments / stride,
        "decode": forward["decoder"] / decode_window,
        "upsample": forward["upsampler"] * sr_steps / upsample_chunk,
    }


class NetworkCalls:
    """A network as the pipeline calls it, counting its forwards per input shape; `flops()` counts one
    forward of each shape seen (on the inputs of its first call) with the uncompiled module.
    Attributes other than the call (e.g. the upsampler's `from_target`) pass through."""

    def __init__(self, module: Any):
        self.module = module
        self.eager = getattr(module, "_orig_mod", module)  # torch.compile's wrapper keeps the module here
        self.calls: Counter = Counter()
        self.per_forward: dict[tuple, int] = {}
        self._first: dict[tuple, tuple] = {}  # inputs of shapes not counted yet

    @staticmethod
    def _key(sample: torch.Tensor, kwargs: dict[str, Any]) -> tuple:
        return tuple(sample.shape), tuple(sorted(kwargs.items()))

    def __call__(self, sample: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        key = self._key(sample, kwargs)
        self.calls[key] += 1
        if key not in self.per_forward and key not in self._first:
            self._first[key] = (sample, args, kwargs)
        return self.module(sample, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.module, name)

    def count_new_shapes(self) -> None:
        """Count one forward of each shape not counted yet (outside any timed span) and let its inputs go."""
        with torch.inference_mode():
            for key, (sample, args, kwargs) in self._first.items():
                # a whole forward: the pipeline's last call may have left this cond's clip inputs held
                # (fp32 only: under bf16 autocast the count's key differs), and a held one costs less
                if hasattr(self.eager, "forget_clip_inputs"):
                    self.eager.forget_clip_inputs()
                self.per_forward[key] = count_flops(self.eager, sample, *args, **kwargs)
        self._first.clear()

    def flops(self) -> int:
        """Counted FLOPs of every forward recorded since the last `reset`."""
        self.count_new_shapes()
        return sum(n * self.per_forward[key] for key, n in self.calls.items())

    def reset(self) -> None:
        self.calls.clear()
