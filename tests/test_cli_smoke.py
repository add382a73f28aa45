"""Every `drivesim` command, run once through the command line on a micro random bundle and tiny
data, so none can break unnoticed (`drivesim bench` once crashed on its own scenario for weeks).
What each command computes is tested in its own file; here: it runs, exits 0 and writes its output.

    python -m pytest tests/test_cli_smoke.py -q
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from drivesim.cli import build_parser, main
from drivesim.models.bundle import save_bundle

from pipeline_fixtures import SCENARIO_YAML, micro_bundle  # also sets torch to one thread

SMOKED = set()  # commands run below; test_every_command_is_smoked compares it with the parser's


def run(*args: object) -> int:
    SMOKED.add(str(args[0]))
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("smoke")
    save_bundle(micro_bundle(), root / "bundle", dtype=torch.float32)
    (root / "drive.yaml").write_text(SCENARIO_YAML.format(duration_s=0.8))  # 8 frames, 128x64
    assert run("synth-data", "-o", root / "data", "--clips", 2, "--frames", 16, "--size", "64x128", "-q") == 0
    assert len(list((root / "data").iterdir())) >= 2
    return root


def test_scenario_commands(ws):
    scenario = ws / "drive.yaml"
    assert run("validate", scenario) == 0
    assert run("plan", scenario, "-o", ws / "labels.jsonl") == 0
    assert len((ws / "labels.jsonl").read_text().splitlines()) == 8
    assert run("preview", scenario, "-o", ws / "preview.png") == 0
    assert (ws / "preview.png").stat().st_size > 0
    assert run("info", ws / "bundle") == 0


def test_generate_strip_and_export(ws):
    assert run("generate", ws / "drive.yaml", "-o", ws / "out", "--checkpoint", ws / "bundle", "--steps", 1, "-q") == 0
    assert len(list((ws / "out" / "frames").iterdir())) == 8
    assert run("strip", ws / "out", "-o", ws / "strip.png", "--count", 2, "--width", 256) == 0
    assert (ws / "strip.png").stat().st_size > 0
    assert run("export", ws / "drive.yaml", "-o", ws / "dataset", "--checkpoint", ws / "bundle", "-q") == 0
    assert (ws / "dataset" / "manifest.json").is_file()


def test_bench_quick_reports_the_session_rate(ws, monkeypatch):
    import drivesim.bench.speed

    monkeypatch.setattr(drivesim.bench.speed, "QUICK_S", 0.5)  # 5- and 20-frame clips instead of 25 and 100
    assert run("bench", "--checkpoint", ws / "bundle", "--quick", "--steps", 1, "--sr-steps", 1, "--threads", 1,
               "--json", ws / "bench.json") == 0
    result = json.loads((ws / "bench.json").read_text())
    assert result["one"]["frames"] == 5 and result["four"]["frames"] == 20
    assert result["session"]["step_1"]["steps"] == 5 and result["session"]["step_4"]["steps"] == 1
    assert all(result["session"][k]["fps"] > 0 for k in ("step_1", "step_4"))
    # the reference (fp32, the interpolator at the keyframe steps, plain sessions) re-measured in the same
    # run, and the speed-ups from it
    ref = result["reference"]
    assert ref["options"] == {**drivesim.bench.speed.REFERENCE, "interpolation_steps": 1}
    assert ref["options"]["precision"] == "fp32" and ref["options"]["session_reuse_segments"] is False
    assert ref["session"]["step_1"]["steps"] == 5 and ref["ten_second_clip_s"] > 0
    assert result["offline_speedup"] == ref["ten_second_clip_s"] / result["ten_second_clip_s"]
    assert result["session_speedup"] == result["session"]["step_1"]["fps"] / ref["session"]["step_1"]["fps"]


def test_every_bench_scenario_passes_the_engine_checks():
    from drivesim.bench.speed import FULL_S, QUICK_S, bench_scenario
    from drivesim.scenario.engine import ScenarioEngine

    for duration in (0.5, 2.0, QUICK_S, 4 * QUICK_S, FULL_S, 4 * FULL_S):  # the guidance run once used 2 s
        assert ScenarioEngine(bench_scenario(duration)).num_frames == round(duration * 10)


def test_train_a_few_steps(ws):
    bundle = ws / "train_bundle"
    shutil.copytree(ws / "bundle", bundle)
    assert run("train", "autoencoder", "--data", ws / "data", "--out", bundle, "--steps", 2, "--batch", 1,
               "--threads", 1, "--preview-every", 0, "-q") == 0
    assert json.loads((bundle / "stages.json").read_text())["stages"]["autoencoder"]


def test_bundle_merge_and_set(ws):
    bundle = ws / "edited_bundle"
    shutil.copytree(ws / "bundle", bundle)
    assert run("bundle", "merge", bundle, "--from", ws / "bundle", "--part", "upsampler") == 0
    assert run("bundle", "set", bundle, "diffusion.guidance_scale=2") == 0
    assert "guidance_scale: 2.0" in (bundle / "config.yaml").read_text()


def test_eval_quick(ws, monkeypatch):
    from drivesim.eval import settings

    for key, value in list(settings.QUICK.items()):  # every count of the quick preset down to 2
        if isinstance(value, int) and not isinstance(value, bool):
            monkeypatch.setitem(settings.QUICK, key, min(value, 2))
    # --only main: the controllability section trains a detector (half the eval's time); tests/test_eval.py
    # covers it, and both sections share this command's wiring
    assert run("eval", ws / "bundle", "--data", ws / "data", "--quick", "--steps", 1, "--sr-steps", 1,
               "--only", "main", "-o", ws / "eval", "-q") == 0
    assert (ws / "eval" / "report.md").is_file()


def test_serve_and_client(ws):
    SMOKED.add("serve")
    proc = subprocess.Popen([sys.executable, "-m", "drivesim.cli", "serve", "--port", "0", "--checkpoint",
                             str(ws / "bundle")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        line = proc.stdout.readline()
        assert "diffusion backend listening on" in line, line + proc.stderr.read()
        address = line.split("listening on ")[1].split(";")[0].split()[0]
        assert run("client", ws / "drive.yaml", "--server", address, "-o", ws / "remote") == 0
        assert len(list((ws / "remote" / "frames").iterdir())) == 8
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_convert_openscenario(ws):
    example = Path(__file__).resolve().parent.parent / "scenarios" / "openscenario" / "cut_in.xosc"
    assert run("convert", example, "-o", ws / "cut_in.yaml") == 0
    assert "version: 1" in (ws / "cut_in.yaml").read_text()


def test_every_command_is_smoked(request):  # runs last (file order): a new command needs a smoke run above
    tests_here = [name for name in globals() if name.startswith("test_")]
    if sum(item.module is request.module for item in request.session.items) < len(tests_here):
        pytest.skip("checks the whole file's runs; some of its tests were deselected")
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(action.choices) == SMOKED
