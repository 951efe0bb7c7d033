"""bench/gpu_check.sh: on a machine without a GPU it still runs (the GPU parts skipped) and writes
its JSON; its ensemble measurement runs on a CPU too."""
import argparse
import json
import os
import subprocess

import pytest
import torch

import datasets
from bench import gpu_check
from conftest import ROOT


@pytest.mark.slow
def test_gpu_check_script_runs_on_cpu_and_writes_its_json(tmp_path):
    out = tmp_path / "gpu_check.json"
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    env["CUDA_VISIBLE_DEVICES"] = ""  # a CPU run even on a machine with a GPU
    proc = subprocess.run([ROOT / "bench" / "gpu_check.sh", out], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["fast_path_plan"]["bf16_autocast"] is False and "no CUDA GPU" in result["skipped"]
    assert "no CUDA GPU" in proc.stdout and "ensemble" not in result


def test_ensemble_measurement_on_cpu(tmp_path):
    a = argparse.Namespace(models=2, models_per_batch=2, epochs=1, synth_n=100, batch_size=32, lr=0.2)
    bundle = datasets.load_bundle("synthetic", synth_n=a.synth_n, synth_shape="3x8x8")  # fastnet on 32x32: slow on a CPU
    data = datasets.prepare_data(bundle, tmp_path, "cpu", create_split=True)
    for batched in (True, False):
        r = gpu_check.ensemble(data, a, torch.device("cpu"), batched)
        assert r["models"] == 2 and r["models_per_stack"] == (2 if batched else 1) and r["models_per_s"] > 0
        assert "gpu_busy_fraction" not in r  # a CUDA figure
    assert 0 < gpu_check.projected_gpu_hours(r["model_images_per_s"])
