"""The fast CIFAR network (models/fastnet.py) and --recipe fast (engine/recipe.py)."""
import json

import pytest
import torch

import datasets
import models
from conftest import run_main
from datasets.base import alternating_flip
from engine import recipe
from engine.train import Trainer
from models.fastnet import whiten_init


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 8, 8)])
def test_forward_shapes(shape):
    m = models.build_model("fastnet", 10, shape, [0.5] * shape[0], [0.25] * shape[0]).eval()
    x = torch.rand(5, *shape)
    assert m(x).shape == (5, 10)
    assert m.features(x).shape == (5, m.feature_dim) and m.fc.in_features == m.feature_dim


def test_whitening_decorrelates_first_layer():
    torch.manual_seed(0)
    base = torch.rand(400, 1, 32, 32)  # strongly correlated channels and neighbouring pixels
    x = (0.6 * base + 0.4 * torch.rand(400, 3, 32, 32)).clamp(0, 1)
    x = 0.5 * (x + x.roll(1, dims=3))
    m = models.build_model("fastnet", 10, (3, 32, 32), [0.5] * 3, [0.25] * 3)
    with torch.no_grad():
        def cov_of_outputs():
            out = m.whiten(m.normalize(x))
            half = out[:, :out.shape[1] // 2].permute(0, 2, 3, 1).reshape(-1, out.shape[1] // 2)
            return torch.cov(half.T)
        before = cov_of_outputs()
        whiten_init(m, x)
        cov = cov_of_outputs()
    eye = torch.eye(len(cov))
    off = lambda c: (c - torch.diag(torch.diag(c))).abs().max() / torch.diag(c).mean()
    assert off(before) > 0.1
    assert torch.allclose(cov / torch.diag(cov).mean(), eye, atol=0.02)


def test_alternating_flip_and_linear_schedule():
    x = torch.arange(2 * 1 * 1 * 4, dtype=torch.float32).view(2, 1, 1, 4)
    idx = torch.tensor([3, 8])
    e0, e1, e2 = (alternating_flip(x, idx, e) for e in range(3))
    for i in range(2):  # each example flipped in exactly one of two consecutive epochs
        flipped = [not torch.equal(e[i], x[i]) for e in (e0, e1)]
        assert sum(flipped) == 1 and torch.equal(e0[i], e2[i])
    fast = recipe.resolve(recipe.OptimFlags(recipe="fast", epochs=5))
    assert fast.scheduler == "linear" and fast.nesterov and fast.label_smoothing == 0.2 and fast.warmup == 1
    assert recipe.resolve(recipe.OptimFlags(epochs=5)) == recipe.OptimFlags(epochs=5)  # default: unchanged
    net = torch.nn.Linear(2, 2)
    h = Trainer(net, lr=1.0, epochs=4, scheduler="linear", nesterov=True, progress=False)
    lrs = []
    for _ in h.epochs():
        lrs.append(h.optimizer.param_groups[0]["lr"])
        h.step(net(torch.ones(1, 2)).sum())
    assert lrs == [1.0, 0.75, 0.5, 0.25] and h.optimizer.param_groups[0]["nesterov"]


def test_main_train_with_fast_recipe(tmp_path):
    proc = run_main("main_train.py", "--arch", "fastnet", "--recipe", "fast", "--dataset", "synthetic",
                    "--synth_shape", "3x32x32", "--synth_n", "100", "--epochs", "2", "--save_dir", tmp_path)
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((tmp_path / "original" / "metrics.json").read_text())
    assert metrics["arch"] == "fastnet" and metrics["config"]["recipe"] == "fast"
    assert metrics["config"]["scheduler"] == "linear" and metrics["accuracy"]["test"] >= 0


def test_estimate_with_fast_recipe(tmp_path):
    # tiny: 1x8x8 images; the split is made directly (no original model needed for the estimate)
    synth = ["--dataset", "synthetic", "--synth_shape", "1x8x8", "--synth_n", "120"]
    bundle = datasets.load_bundle("synthetic", synth_n=120, synth_shape="1x8x8")
    datasets.prepare_data(bundle, tmp_path, "cpu", create_split=True)
    proc = run_main("memorization", "estimate", "--arch", "fastnet", "--recipe", "fast",
                    "--num_models", "2", "--models_per_batch", "2", "--epochs", "2", *synth,
                    "--save_dir", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "memorization" / "heldout.npz").is_file()
