"""Model configs, checkpoint bundles (save / load / backbone swap / errors) and `drivesim info`."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import torch
import yaml

import drivesim
from drivesim.cli import main
from drivesim.errors import BundleError, DrivesimError
from drivesim.models.bundle import (
    CONFIG_FILE, PARTS, build_bundle, bundle_sha256, construct_models, grow_bundle, load_bundle, part_file,
    save_bundle,
)
from drivesim.models.configs import CONFIGS, BundleConfig, config_from_dict, config_to_dict, get_config


def tensors(model: torch.nn.Module, select: str = "all") -> dict[str, torch.Tensor]:
    state = model.state_dict()
    if select == "all":
        return state
    want = select == "temporal"
    return {k: v for k, v in state.items() if model.is_temporal_parameter(k) == want}


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), k


@pytest.fixture(scope="module")
def bundle_a():
    return build_bundle(get_config("tiny"), seed=0)


@pytest.fixture(scope="module")
def saved_a(bundle_a, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bundles") / "a"
    save_bundle(bundle_a, folder, dtype=torch.float32)
    return folder


# --- configs -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_config_yaml_round_trip(name):
    config = get_config(name)
    text = yaml.safe_dump(dataclasses.asdict(config))
    assert config_from_dict(yaml.safe_load(text)) == config
    # a config without students writes no `students` section (bundles without students keep their config.yaml)
    assert config_to_dict(config) == {k: v for k, v in dataclasses.asdict(config).items() if k != "students"}


def test_paper_and_tiny_sizes_and_timing():
    paper, tiny = get_config("paper"), get_config("tiny")
    assert paper.frame_size == (128, 256) and paper.latent_size == (16, 32) and paper.autoencoder.downsample_factor == 8
    assert paper.output_size == (512, 1024) and paper.keyframe_fps == 1.875 and paper.output_fps == 30.0
    assert paper.keyframe_stride == 16 and paper.interpolation_passes == 2
    assert tiny.frame_size == (64, 128) and tiny.latent_size == (16, 32) and tiny.autoencoder.downsample_factor == 4
    assert tiny.output_size == (256, 512) and tiny.clip_frames == 8 and tiny.upsampler.space_to_depth == 4
    with torch.device("meta"):  # shapes only: the paper models are far too big to allocate here
        models = construct_models(paper)
    unet = sum(p.numel() for p in models["unet"].parameters())
    assert unet > 100e6 and sum(p.numel() for p in models["autoencoder"].parameters()) > 30e6


def test_tiny_is_small(bundle_a):
    counts = {name: sum(p.numel() for p in m.parameters()) for name, m in bundle_a.models.items()}
    assert all(0.3e6 < n < 4e6 for n in counts.values()), counts
    assert sum(counts.values()) * 2 < 40e6  # fp16 bytes of all parts


def test_config_errors():
    with pytest.raises(DrivesimError, match="tiny"):
        get_config("huge")
    data = config_to_dict(get_config("tiny"))
    with pytest.raises(DrivesimError, match="output_fps"):
        config_from_dict({**data, "output_fps": 12.0})
    with pytest.raises(DrivesimError, match="keyframe_stride"):
        config_from_dict({**data, "keyframe_stride": 6, "output_fps": 15.0})
    with pytest.raises(DrivesimError, match="bogus"):
        config_from_dict({**data, "bogus": 1})
    with pytest.raises(DrivesimError, match="divisible"):
        config_from_dict({**data, "frame_size": [66, 128]})


# --- save / load -------------------------------------------------------------------------------

def test_round_trip_fp32_is_bit_exact(bundle_a, saved_a):
    assert sorted(p.name for p in saved_a.iterdir()) == sorted([CONFIG_FILE, *(f"{p}.safetensors" for p in PARTS)])
    assert not [p for p in saved_a.parent.iterdir() if p.name.startswith(".")]  # no staging left behind
    loaded = load_bundle(saved_a)
    assert loaded.config == bundle_a.config and loaded.path == saved_a
    for name, model in bundle_a.models.items():
        assert_same(tensors(loaded.models[name]), tensors(model))
    # the shared spatial weights are the same tensors in memory
    for key, value in tensors(loaded.unet, "spatial").items():
        assert loaded.interpolator.state_dict()[key].data_ptr() == value.data_ptr()
    # the loaded temporal decoder decodes like the loaded image decoder in image-only mode
    z = torch.randn(1, 2, 4, 16, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded.decoder(z, image_only=True)[0], loaded.autoencoder.decode(z[0]),
                                   rtol=0, atol=1e-6)


def test_fp16_save_loads_the_fp16_values(bundle_a, tmp_path):
    save_bundle(bundle_a, tmp_path / "half", dtype=torch.float16)
    half = load_bundle(tmp_path / "half")  # fp32 by default
    for name, model in bundle_a.models.items():
        for key, value in tensors(half.models[name]).items():
            assert value.dtype == torch.float32
            assert torch.equal(value, model.state_dict()[key].half().float()), (name, key)
    assert load_bundle(tmp_path / "half", dtype=torch.float16).unet.conv_in.weight.dtype == torch.float16
    fp32_bytes = sum(part_file(tmp_path / "half", p).stat().st_size for p in PARTS)
    assert fp32_bytes < 40e6


def test_saving_over_a_bundle_replaces_it(bundle_a, tmp_path):
    folder = tmp_path / "b"
    save_bundle(bundle_a, folder, dtype=torch.float32)
    (folder / "README.md").write_text("mine")  # other files in the folder survive
    other = build_bundle(get_config("tiny"), seed=1)
    save_bundle(other, folder, dtype=torch.float32)
    assert_same(tensors(load_bundle(folder).unet), tensors(other.unet))
    assert (folder / "README.md").read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_temporal_from_swaps_only_temporal_parts(bundle_a, saved_a, tmp_path):
    bundle_b = build_bundle(get_config("tiny"), seed=1)
    save_bundle(bundle_b, tmp_path / "b", dtype=torch.float32)
    swapped = load_bundle(saved_a, temporal_from=tmp_path / "b")
    assert swapped.temporal_from == tmp_path / "b"
    assert_same(tensors(swapped.unet, "spatial"), tensors(bundle_a.unet, "spatial"))
    assert_same(tensors(swapped.unet, "temporal"), tensors(bundle_b.unet, "temporal"))
    assert_same(tensors(swapped.interpolator, "spatial"), tensors(bundle_a.unet, "spatial"))
    assert_same(tensors(swapped.interpolator, "temporal"), tensors(bundle_b.interpolator, "temporal"))
    assert_same(tensors(swapped.decoder, "temporal"), tensors(bundle_b.decoder, "temporal"))
    assert_same(tensors(swapped.decoder, "spatial"), tensors(bundle_a.decoder, "spatial"))
    assert_same(tensors(swapped.autoencoder), tensors(bundle_a.autoencoder))
    assert_same(tensors(swapped.upsampler), tensors(bundle_a.upsampler))
    # a seed-1 and a seed-0 temporal layer really differ, so the checks above can fail
    ta, tb = tensors(bundle_a.unet, "temporal"), tensors(bundle_b.unet, "temporal")
    assert any(not torch.equal(ta[k], tb[k]) for k in ta)


def test_temporal_from_incompatible_backbone(saved_a, tmp_path):
    config = get_config("tiny")
    config = dataclasses.replace(config, unet=dataclasses.replace(config.unet, block_out_channels=(32, 96)),
                                 interpolator=dataclasses.replace(config.interpolator, block_out_channels=(32, 96)))
    save_bundle(build_bundle(config), tmp_path / "wide")
    with pytest.raises(BundleError, match=r"unet config differs.*block_out_channels"):
        load_bundle(saved_a, temporal_from=tmp_path / "wide")


def copy_bundle(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for p in src.iterdir():
        (dst / p.name).write_bytes(p.read_bytes())
    return dst


def test_missing_part_names_the_part(saved_a, tmp_path):
    folder = copy_bundle(saved_a, tmp_path / "c")
    part_file(folder, "unet_temporal").unlink()
    with pytest.raises(BundleError, match="unet_temporal"):
        load_bundle(folder)


def test_bad_folders_and_configs(saved_a, tmp_path):
    with pytest.raises(BundleError, match="does not exist"):
        load_bundle(tmp_path / "nowhere")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(BundleError, match="not a bundle"):
        load_bundle(tmp_path / "file.txt")
    folder = copy_bundle(saved_a, tmp_path / "c")
    (folder / CONFIG_FILE).write_text("name: [unclosed\n  - : :")
    with pytest.raises(BundleError, match="config.yaml.*does not parse"):
        load_bundle(folder)
    (folder / CONFIG_FILE).write_text("name: tiny\nautoencoder: 3\n")
    with pytest.raises(BundleError, match="autoencoder must be a mapping"):
        load_bundle(folder)


def test_shape_mismatch_names_part_and_tensor(saved_a, tmp_path):
    folder = copy_bundle(saved_a, tmp_path / "c")
    data = yaml.safe_load((folder / CONFIG_FILE).read_text())
    data["upsampler"]["block_out_channels"] = [32, 96]
    (folder / CONFIG_FILE).write_text(yaml.safe_dump(data))
    with pytest.raises(BundleError, match=r"part 'upsampler'.*tensor '[^']+' has shape"):
        load_bundle(folder)


def test_corrupt_part_file(saved_a, tmp_path):
    folder = copy_bundle(saved_a, tmp_path / "c")
    part_file(folder, "interpolator").write_bytes(b"not a safetensors file")
    with pytest.raises(BundleError, match="interpolator"):
        load_bundle(folder)


def test_sha256(saved_a, tmp_path):
    digest = bundle_sha256(saved_a)
    assert re.fullmatch(r"[0-9a-f]{64}", digest) and bundle_sha256(saved_a) == digest
    folder = copy_bundle(saved_a, tmp_path / "c")
    assert bundle_sha256(folder) == digest  # content, not location
    data = bytearray(part_file(folder, "upsampler").read_bytes())
    data[-1] ^= 1
    part_file(folder, "upsampler").write_bytes(bytes(data))
    assert bundle_sha256(folder) != digest


def test_no_pickle_in_the_package():
    pattern = re.compile(r"torch\.load\(|torch\.save\(|\bimport pickle\b|\bpickle\.\w|\bcloudpickle\b|\bdill\b|"
                         r"\bjoblib\b|\.ckpt\b|['\"][^'\"\s]*\.pt['\"]|\.pth\b")
    root = Path(drivesim.__file__).parent
    offenders = [f"{path.relative_to(root)}:{n}: {line.strip()}"
                 for path in sorted(root.rglob("*.py")) if "_pb2" not in path.name
                 for n, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert not offenders, "\n".join(offenders)


# --- drivesim info -----------------------------------------------------------------------------

def test_info_lists_every_part_with_counts(bundle_a, saved_a, capsys):
    assert main(["info", str(saved_a)]) == 0
    out = capsys.readouterr().out
    n = lambda model, select="all": f"{sum(t.numel() for t in tensors(model, select).values()):,}"  # noqa: E731
    expected = {  # part: (params, spatial, temporal)
        "autoencoder": (n(bundle_a.autoencoder), n(bundle_a.autoencoder), "0"),
        "decoder_temporal": (n(bundle_a.decoder, "temporal"), "0", n(bundle_a.decoder, "temporal")),
        "unet_spatial": (n(bundle_a.unet, "spatial"), n(bundle_a.unet, "spatial"), "0"),
        "unet_temporal": (n(bundle_a.unet, "temporal"), "0", n(bundle_a.unet, "temporal")),
        "interpolator": (n(bundle_a.interpolator, "temporal"), "0", n(bundle_a.interpolator, "temporal")),
        "upsampler": (n(bundle_a.upsampler), n(bundle_a.upsampler, "spatial"), n(bundle_a.upsampler, "temporal")),
    }
    for part, (params, spatial, temporal) in expected.items():
        row = next(line.split() for line in out.splitlines() if line.startswith(part + " "))
        assert row[:5] == [part, f"{part}.safetensors", params, spatial, temporal], row
        assert row[5] == "float32"
    assert "upsampler_patch_size" in out and "block_out_channels" in out  # the config table


def test_info_errors(saved_a, tmp_path, capsys):
    assert main(["info", str(tmp_path / "nope")]) == 1
    assert "does not exist" in capsys.readouterr().err
    folder = copy_bundle(saved_a, tmp_path / "c")
    part_file(folder, "unet_spatial").unlink()
    assert main(["info", str(folder)]) == 1
    captured = capsys.readouterr()
    assert "MISSING" in captured.out and "unet_spatial" in captured.err


def test_bundle_config_type_is_exported():
    assert isinstance(get_config("tiny"), BundleConfig)


def test_grow_bundle_keeps_every_trained_tensor_and_starts_as_the_source(tmp_path):
    from drivesim.conditions.encode import build_conditions
    from drivesim.scenario.labels import FrameConditions, RoadState

    tiny = get_config("tiny")
    flat = dataclasses.replace(tiny.unet, layout_scale=1, layout_levels=False)
    old_config = dataclasses.replace(tiny, unet=flat, interpolator=dataclasses.replace(flat, use_rate=True),
                                     autoencoder=dataclasses.replace(tiny.autoencoder, scaling_factor=0.5),
                                     upsampler=dataclasses.replace(tiny.upsampler, num_layout_channels=0))
    old = build_bundle(old_config, seed=3)
    save_bundle(old, tmp_path / "old", dtype=torch.float32)
    grown, fresh = grow_bundle(tmp_path / "old", tiny, seed=9)
    upsampler_new = {"upsampler.conv_in.weight", "upsampler.layout_null"}  # its input gained the layout maps
    assert upsampler_new <= set(fresh)
    assert all(".layout_encoder." in name for name in set(fresh) - upsampler_new)
    assert {name.split(".")[0] for name in fresh} == {"unet", "interpolator", "upsampler"}
    assert grown.config.autoencoder.scaling_factor == 0.5 and grown.config.unet.layout_levels
    for part in ("autoencoder", "decoder"):
        assert_same(tensors(getattr(grown, part)), tensors(getattr(old, part)))
    old_in, new_in = old.upsampler.conv_in.weight, grown.upsampler.conv_in.weight
    assert torch.equal(new_in[:, :old_in.shape[1]], old_in) and not new_in[:, old_in.shape[1]:].any()
    from drivesim.conditions.encode import upsampler_conditions

    h, w = tiny.output_size[0] // 4, tiny.output_size[1] // 4  # a patch: the upsampler is convolutional
    low = torch.rand(1, 2, 3, h, w) * 2 - 1
    cond = upsampler_conditions(low, 100)
    with_boxes = cond.replace(layout=torch.rand(1, 2, 6, h, w), layout_null=torch.zeros(1, 2, dtype=torch.bool))
    xs = torch.randn(1, 2, 3, h, w)
    with torch.no_grad():  # zeroed new inputs: the grown upsampler starts as the old one
        assert torch.allclose(old.upsampler(xs, torch.tensor([50]), cond),
                              grown.upsampler(xs, torch.tensor([50]), with_boxes), atol=1e-5)
    kept = {k: v for k, v in tensors(grown.unet).items() if not k.startswith("layout_encoder.")}
    assert_same(kept, tensors(old.unet))
    frame = FrameConditions(0, 0.0, "day", 0.5, road=RoadState(3, 3.5, 5.25, 15.0, 0.0))
    coarse = build_conditions([[frame] * 2], old_config.layout_size)
    fine = coarse.replace(layout=coarse.layout.repeat_interleave(4, -2).repeat_interleave(4, -1))  # max-pools back
    assert build_conditions([[frame] * 2], tiny.layout_size).layout.shape == fine.layout.shape
    x, t = torch.randn(1, 2, 4, *tiny.latent_size), torch.tensor([300])
    with torch.no_grad():
        assert torch.allclose(old.unet(x, t, coarse), grown.unet(x, t, fine), atol=1e-6)
        assert torch.allclose(old.interpolator(x, t, coarse.replace(rate=torch.tensor([1]))),
                              grown.interpolator(x, t, fine.replace(rate=torch.tensor([1]))), atol=1e-6)


def test_hostile_and_contradictory_configs_are_refused_quickly(saved_a, tmp_path):
    """An alias bomb stops at the scenario loader's node budget; a config whose networks cannot be built
    (num_heads: 0, out of its range) or that holds a non-finite number (scaling_factor: .nan -> black frames)
    is named."""
    import time

    folder = copy_bundle(saved_a, tmp_path / "c")
    good = (folder / CONFIG_FILE).read_text()
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi"))
    (folder / CONFIG_FILE).write_text(bomb + good)
    start = time.perf_counter()
    with pytest.raises(BundleError, match="aliases"):
        load_bundle(folder)
    assert time.perf_counter() - start < 5
    data = yaml.safe_load(good)
    data["unet"]["num_heads"] = 0
    (folder / CONFIG_FILE).write_text(yaml.safe_dump(data))
    with pytest.raises(BundleError, match=r"unet.num_heads: must be in 1\.\.8192, got 0"):
        load_bundle(folder)
    data = yaml.safe_load(good)
    data["autoencoder"]["scaling_factor"] = float("nan")
    (folder / CONFIG_FILE).write_text(yaml.safe_dump(data))
    with pytest.raises(BundleError, match="scaling_factor"):
        load_bundle(folder)


def test_tiny_world_is_tiny_with_the_road_channels():
    """scripts/finetune_world.sh grows a tiny bundle into tiny_world: 11 layout channels for every model and
    nothing else changed, so grow_bundle (its new inputs zeroed, tested above) can carry every weight over."""
    from drivesim.models.bundle import build_bundle, grow_bundle
    from drivesim.models.configs import get_config

    world = get_config("tiny_world")
    assert (world.unet.num_layout_channels, world.interpolator.num_layout_channels,
            world.upsampler.num_layout_channels) == (11, 11, 11)
    assert world.interpolator.use_rate and not world.unet.use_rate
    assert world.frame_size == get_config("tiny").frame_size  # only the layout input differs
    with torch.device("meta"):
        build_bundle(world)
