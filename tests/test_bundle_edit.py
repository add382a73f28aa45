"""Editing a trained bundle (drivesim.train.bundle_edit, `drivesim bundle merge | set`): a part merged
from another bundle brings its weights, config section and stages.json entry; config values are
typed by the schema; a bad key or an edit that would break the bundle writes nothing.

    python -m pytest tests/test_bundle_edit.py -q
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from drivesim.cli import main
from drivesim.errors import DrivesimError
from drivesim.models.bundle import PARTS, build_bundle, load_bundle, part_file, read_bundle_config, save_bundle
from drivesim.models.configs import StudentConfig
from drivesim.train.bundle_edit import config_sections, drop_students, merge_parts, parse_assignments, set_config_values
from drivesim.train.state import record_stage

from pipeline_fixtures import micro_bundle, micro_config  # also sets torch to one thread

REPO = Path(__file__).resolve().parent.parent


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def main_bundle(tmp_path) -> Path:
    folder = tmp_path / "main"
    save_bundle(micro_bundle(), folder, dtype=torch.float32)
    record_stage(folder, "autoencoder", {"steps": 3})
    return folder


@pytest.fixture(scope="module")
def upsampler_bundle(tmp_path_factory) -> Path:
    """A bundle whose upsampler was trained elsewhere with another architecture (2 layers per block)."""
    cfg = micro_config()
    cfg = dataclasses.replace(cfg, upsampler=dataclasses.replace(cfg.upsampler, layers_per_block=2, residual_scale=2.0))
    folder = tmp_path_factory.mktemp("edit") / "main.upsampler"
    save_bundle(build_bundle(cfg, seed=1), folder, dtype=torch.float32)
    record_stage(folder, "upsampler", {"steps": 5, "phases": {"spatial": {"steps": 4}, "temporal": {"steps": 1}}})
    record_stage(folder, "image", {"steps": 9})  # not merged: must not come along
    return folder


# --- merge ---------------------------------------------------------------------------------------

def test_merging_the_upsampler_brings_its_weights_config_section_and_stage_record(main_bundle, upsampler_bundle):
    before = _digests(main_bundle)
    assert merge_parts(main_bundle, upsampler_bundle, ["upsampler"]) == ["upsampler"]
    after = _digests(main_bundle)
    assert after["upsampler.safetensors"] == _digests(upsampler_bundle)["upsampler.safetensors"] != \
        before["upsampler.safetensors"]
    assert [name for name in before if before[name] != after[name]] == ["config.yaml", "stages.json",
                                                                         "upsampler.safetensors"]
    config = yaml.safe_load((main_bundle / "config.yaml").read_text())
    theirs = yaml.safe_load((upsampler_bundle / "config.yaml").read_text())
    assert config["upsampler"] == theirs["upsampler"] and config["upsampler"]["layers_per_block"] == 2
    assert config["name"] == "micro" and config["unet"] == yaml.safe_load(yaml.safe_dump(
        dataclasses.asdict(micro_config().unet)))
    stages = json.loads((main_bundle / "stages.json").read_text())["stages"]
    assert sorted(stages) == ["autoencoder", "upsampler"]
    assert stages["upsampler"]["phases"] == {"spatial": {"steps": 4}, "temporal": {"steps": 1}}

    merged, source = load_bundle(main_bundle), load_bundle(upsampler_bundle)  # the bundle still loads
    for key, value in source.upsampler.state_dict().items():
        assert torch.equal(merged.upsampler.state_dict()[key], value), key
    assert not list(main_bundle.glob(".*.tmp"))  # no temp file left behind


def test_merge_is_idempotent_so_a_rerun_script_may_repeat_it(main_bundle, upsampler_bundle):
    merge_parts(main_bundle, upsampler_bundle, ["upsampler"])
    once = _digests(main_bundle)
    merge_parts(main_bundle, upsampler_bundle, ["upsampler"])
    assert _digests(main_bundle) == once


def test_a_merge_that_would_break_the_bundle_writes_nothing(main_bundle, tmp_path):
    cfg = micro_config()
    other = tmp_path / "other"  # another unet architecture: its temporal layers do not fit main's spatial ones
    save_bundle(build_bundle(dataclasses.replace(cfg, unet=dataclasses.replace(cfg.unet, layers_per_block=2),
                                                 interpolator=dataclasses.replace(cfg.interpolator,
                                                                                  layers_per_block=2))), other)
    before = _digests(main_bundle)
    with pytest.raises(DrivesimError, match="taking unet_temporal.*nothing was written"):
        merge_parts(main_bundle, other, ["unet_temporal"])
    assert _digests(main_bundle) == before
    with pytest.raises(DrivesimError, match="unknown part"):
        merge_parts(main_bundle, other, ["unet"])
    with pytest.raises(DrivesimError, match="both the bundle and the source"):
        merge_parts(main_bundle, main_bundle, ["upsampler"])


def test_a_merged_stage_drops_the_stages_trained_on_the_old_weights(main_bundle, tmp_path):
    record_stage(main_bundle, "image", {"steps": 2})
    record_stage(main_bundle, "decoder", {"steps": 2})
    other = tmp_path / "other"
    save_bundle(micro_bundle(seed=1), other)
    record_stage(other, "autoencoder", {"steps": 7})
    merge_parts(main_bundle, other, ["autoencoder"])
    assert json.loads((main_bundle / "stages.json").read_text())["stages"] == {"autoencoder": {"steps": 7}}


def test_config_sections_come_with_their_parts():
    assert config_sections(["upsampler"]) == ["upsampler"]
    assert config_sections(["decoder_temporal"]) == []  # the autoencoder's section holds its scaling factor
    assert config_sections(["interpolator", "unet_temporal", "unet_spatial"]) == ["unet", "interpolator"]


# --- set -----------------------------------------------------------------------------------------

def test_set_types_values_by_the_config_schema(main_bundle):
    typed = set_config_values(main_bundle, parse_assignments(
        ["upsampler_diffusion.num_inference_steps=5", "diffusion.guidance_scale=2", "super_resolution=false",
         "diffusion.sampler=ddim", "upsampler_patch_size=[8, 8]"]))
    assert typed == {"upsampler_diffusion.num_inference_steps": 5, "diffusion.guidance_scale": 2.0,
                     "super_resolution": False, "diffusion.sampler": "ddim", "upsampler_patch_size": [8, 8]}
    config = read_bundle_config(main_bundle)
    assert config.upsampler_diffusion.num_inference_steps == 5 and config.diffusion.sampler == "ddim"
    assert isinstance(config.diffusion.guidance_scale, float) and config.diffusion.guidance_scale == 2.0
    assert config.super_resolution is False and config.upsampler_patch_size == (8, 8)
    assert "guidance_scale: 2.0" in (main_bundle / "config.yaml").read_text()


@pytest.mark.parametrize("item, message", [
    ("diffusion.guidance_scal=2", "unknown config key 'diffusion.guidance_scal'.*guidance_scale"),
    ("nope=1", "unknown config key 'nope'"),
    ("diffusion.sampler.x=1", "diffusion.sampler is a value, not a section"),
    ("upsampler=3", "'upsampler' is a section; set one of its keys, e.g. upsampler.scale_factor"),
    ("diffusion.num_inference_steps=two", "diffusion.num_inference_steps"),
    ("diffusion.num_inference_steps=2.5", "diffusion.num_inference_steps"),
    ("diffusion.sampler=euler", "diffusion.sampler must be one of"),
    ("upsampler.layers_per_block=3", "nothing was written.*upsampler"),  # the part file no longer fits
    ("diffusion.guidance_scale", "expected KEY=VALUE"),
])
def test_a_bad_key_or_value_is_named_and_writes_nothing(main_bundle, item, message):
    before = _digests(main_bundle)
    with pytest.raises(DrivesimError, match=message):
        set_config_values(main_bundle, parse_assignments([item]))
    assert _digests(main_bundle) == before


# --- the command line and the training scripts ---------------------------------------------------

def test_the_command_merges_and_sets(main_bundle, upsampler_bundle, capsys):
    assert main(["bundle", "merge", str(main_bundle), "--from", str(upsampler_bundle), "--part", "upsampler"]) == 0
    assert "took upsampler" in capsys.readouterr().out
    assert main(["bundle", "set", str(main_bundle), "diffusion.guidance_scale=1.5"]) == 0
    assert "diffusion.guidance_scale=1.5" in capsys.readouterr().out
    assert read_bundle_config(main_bundle).diffusion.guidance_scale == 1.5
    assert main(["bundle", "set", str(main_bundle), "diffusion.guidance=2"]) == 1
    assert "error: unknown config key 'diffusion.guidance'" in capsys.readouterr().err


def test_the_command_offers_every_part():
    from drivesim.cli import bundle
    from drivesim.models.configs import STUDENT_MODELS

    assert bundle.PARTS == PARTS and part_file(Path("b"), "upsampler").name == "upsampler.safetensors"
    assert bundle.STUDENT_MODELS == STUDENT_MODELS


def test_drop_student_removes_a_students_file_config_entry_and_record(tmp_path, capsys):
    bundle = micro_bundle()
    bundle.students["upsampler"] = copy.deepcopy(bundle.upsampler)
    bundle.students["keyframe"] = copy.deepcopy(bundle.unet)
    bundle.config.students.upsampler = StudentConfig(steps=1)
    bundle.config.students.keyframe = StudentConfig(steps=2, guidance_scale=2.0)
    folder = tmp_path / "b"
    save_bundle(bundle, folder)
    record_stage(folder, "distill-upsampler", {"steps": 3})
    record_stage(folder, "distill-keyframe", {"steps": 4})
    assert main(["bundle", "drop-student", str(folder), "upsampler"]) == 0
    assert "dropped the student of upsampler" in capsys.readouterr().out
    loaded = load_bundle(folder)
    assert sorted(loaded.students) == ["keyframe"] and loaded.config.students.upsampler.steps == 0
    assert not (folder / "students" / "upsampler.safetensors").exists()
    record = json.loads((folder / "stages.json").read_text())
    assert "distill-upsampler" not in record["stages"] and "distill-keyframe" in record["stages"]
    assert record["edits"][-1]["drop_students"] == ["upsampler"]
    assert main(["info", str(folder)]) == 0
    assert "dropped the students of upsampler" in capsys.readouterr().out
    assert drop_students(folder, ["upsampler"]) == []  # again: nothing there, no error, no new edit
    assert len(json.loads((folder / "stages.json").read_text())["edits"]) == len(record["edits"])
    assert drop_students(folder, ["keyframe"]) == ["keyframe"]
    assert "students" not in yaml.safe_load((folder / "config.yaml").read_text()) and not load_bundle(folder).students
    with pytest.raises(DrivesimError, match="unknown model.*students are keyframe, interpolator, upsampler"):
        drop_students(folder, ["decoder"])
    with pytest.raises(SystemExit):
        main(["bundle", "drop-student", str(folder), "decoder"])
    assert "invalid choice: 'decoder'" in capsys.readouterr().err


def test_the_distill_script_drops_students_with_the_command_not_inline_python():
    text = (REPO / "scripts" / "distill.sh").read_text()
    assert not re.search(r"python3? -( |$)", text, re.M) and "<<'PY'" not in text
    assert 'drivesim bundle drop-student "$OUT" $MODELS' in text


@pytest.mark.parametrize("script, guidance", [("train_default.sh", 1.0), ("finetune_default.sh", 2.0)])
def test_training_scripts_merge_with_the_command_not_inline_python(script, guidance, main_bundle, upsampler_bundle):
    text = (REPO / "scripts" / script).read_text()
    assert not re.search(r"python3? -( |$)", text, re.M) and "<<'PY'" not in text
    # run the script's last lines (merge, then set) on the test bundles, `drivesim` being this checkout's
    tail = text[text.index("drivesim bundle merge"):text.index('drivesim info "$OUT"')]
    assert "drivesim bundle set" in tail
    out = main_bundle.parent / "main.upsampler"
    shutil.copytree(upsampler_bundle, out)
    env = {**os.environ, "OUT": str(main_bundle), "UPS_FROM": str(out), "PY": sys.executable, "OMP_NUM_THREADS": "1"}
    env.pop("SR_STEPS", None), env.pop("GUIDANCE", None)
    proc = subprocess.run(["bash", "-c", 'set -euo pipefail; drivesim() { "$PY" -m drivesim.cli "$@"; }\n' + tail],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    config = read_bundle_config(main_bundle)
    assert config.upsampler.layers_per_block == 2 and config.upsampler_diffusion.num_inference_steps == 2
    assert config.diffusion.guidance_scale == guidance
    assert "upsampler" in json.loads((main_bundle / "stages.json").read_text())["stages"]


def test_run_once_skips_a_finished_step_resumes_an_interrupted_one_and_marks_only_success(tmp_path):
    """scripts/stage_done.sh's run_once, as finetune_default.sh's `step` and road_upsampler.sh's `phase` use it."""
    script = f'source {REPO / "scripts" / "stage_done.sh"}\nrun_once "$1" "$2" label echo ran "${{@:3}}"'
    marker, state = tmp_path / "step.done", tmp_path / "state"

    def run(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-c", script, "bash", str(marker), str(state), *extra],
                              capture_output=True, text=True, timeout=60)

    assert run("x").stdout.splitlines()[-1] == "ran x" and marker.is_file()  # no state yet: a fresh run
    assert run("x").stdout.strip() == "== label: done, skipped"
    marker.unlink()
    state.mkdir()  # an interrupted run left its state: resumed
    assert run("x").stdout.splitlines()[-1] == "ran x --resume"
    marker.unlink()
    failing = subprocess.run(["bash", "-c", f'source {REPO / "scripts" / "stage_done.sh"}\n'
                              f'run_once "{marker}" "{state}" label false || true'], timeout=60)
    assert failing.returncode == 0 and not marker.exists()  # a failed step is not marked finished
