"""The capstone extensions: SSL add-ons put gradient into the model, augmentations return what
was asked for, SimCLR learns, geo_metric by hand, main_forget runs and bad input (in-process)."""
import argparse
import copy
import json
import math
import shutil

import pytest
import torch
import torch.nn.functional as F

from conftest import digits_forget_retain, run_folder
import main_forget
import models
import unlearn
from engine.errors import UserError
from engine.train import Trainer
from evaluation.capstone import geo_metric, geo_metric_of_run, tsne_plot
from unlearn import UnlearnData, addons
from unlearn.addons import AddonFlags
from unlearn.augment.arpl import arpl_samples, train_arpl
from unlearn.augment.gan import load_generator, save_generator
from unlearn.augment.opengan import OpenGANTerm, opengan_targets, train_opengan
from unlearn.augment.simple import simple_augment
from unlearn.ssl.regularizer import (Regularizer, SSLTerm, contrastive_ssl_loss, forget_weight,
                                     simclr_outputs)
from unlearn.ssl.simclr import ProjectionHead, SimCLRConfig, SimCLRNet, nt_xent, train_simclr
from unlearn.ssl.views import jitter_view, simclr_view


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return digits_forget_retain(tmp_path_factory, 40, 200)


def build(bundle, arch="cnn", seed=0):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return models.build_model(arch, bundle.num_classes, bundle.image_shape, bundle.mean, bundle.std)


def unlearn_data(digits, arch="cnn"):
    bundle, data, forget, retain = digits
    original = build(bundle, arch).eval().requires_grad_(False)
    return UnlearnData(forget, retain, data.val, data.test, bundle.num_classes, original,
                       lambda: build(bundle, arch, seed=123))


def simclr_parts(bundle, model):
    encoder = build(bundle, seed=7).eval().requires_grad_(False)
    with torch.random.fork_rng():
        torch.manual_seed(8)
        head = ProjectionHead(model.feature_dim).eval().requires_grad_(False)
    return encoder, head


def grads(model, loss):
    model.zero_grad(set_to_none=True)
    loss.backward()
    return {n: p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p)
            for n, p in model.named_parameters()}


def differs(a, b):
    return max(float((a[n] - b[n]).abs().max()) for n in a)


def forget_ascent_loss(model, forget):
    x, y = next(forget.batches(16))
    return -F.cross_entropy(model(x), y)


def ssl_term(mode, digits, model, seed=0):
    bundle, _, forget, retain = digits
    encoder, head = simclr_parts(bundle, model)
    targets = (simclr_outputs(encoder, head, forget), simclr_outputs(encoder, head, retain)) \
        if mode == "simple" else None
    return SSLTerm(mode, 0.5, head, forget, retain, 32, seed, targets=targets)


# ---- the add-ons change the gradient ----------------------------------------------------------

@pytest.mark.parametrize("mode", ["simple", "contrastive"])
def test_ssl_addon_changes_the_gradient(digits, mode):
    model = build(digits[0]).train()
    plain = grads(model, forget_ascent_loss(model, digits[2]))
    term = ssl_term(mode, digits, model)
    value = term(model)
    assert value.requires_grad  # the capstone computed it under no_grad: a constant, no gradient
    with_ssl = grads(model, forget_ascent_loss(model, digits[2]) + ssl_term(mode, digits, model)(model))
    assert differs(plain, with_ssl) > 1e-6
    only = grads(model, ssl_term(mode, digits, model)(model))
    assert sum(float(g.norm()) for n, g in only.items() if n.startswith("body")) > 0  # reaches the encoder
    assert all(float(g.abs().max()) == 0 for n, g in only.items() if n.startswith("fc"))  # head unused


def test_regularizer_changes_the_trainer_update(digits):
    """The generic path: Trainer(regularizer=...) adds the term before backward."""
    start = build(digits[0]).train()

    def one_step(reg):
        model = copy.deepcopy(start)
        h = Trainer(model, lr=0.1, epochs=1, progress=False, regularizer=reg)
        h.step(forget_ascent_loss(model, digits[2]))
        return {n: p.detach().clone() for n, p in model.named_parameters()}

    base = one_step(None)
    assert differs(base, one_step(None)) == 0
    assert differs(base, one_step(Regularizer({"ssl": ssl_term("simple", digits, start)}))) > 1e-7


def test_ssl_losses_match_the_spec_by_hand():
    assert forget_weight(torch.tensor([1] + [0] * 9)).item() == pytest.approx(0.3100, abs=1e-4)
    torch.manual_seed(0)
    z1, z2 = torch.randn(6, 5), torch.randn(6, 5)
    # y = 0 everywhere: standard NT-Xent at T = 1 (CE over the other 2B-1 rows, target the partner)
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.t()
    sim.fill_diagonal_(float("-inf"))
    target = (torch.arange(12) + 6) % 12
    assert contrastive_ssl_loss(z1, z2, torch.zeros(6)).item() == pytest.approx(
        F.cross_entropy(sim, target).item(), abs=1e-5)
    # flipping y negates the positive logit of that example's two rows
    flip = torch.zeros(6)
    flip[2] = 1
    pos = (z[2] * z[8]).sum()
    sim2 = sim.clone()
    sim2[2, 8] = sim2[8, 2] = -pos
    assert contrastive_ssl_loss(z1, z2, flip).item() == pytest.approx(F.cross_entropy(sim2, target).item(), abs=1e-5)
    assert nt_xent(z1, z2, 0.5).item() == pytest.approx(F.cross_entropy(sim / 0.5, target).item(), abs=1e-5)


@pytest.mark.parametrize("method", ["GA", "bad-teaching", "SCRUB", "SalUn"])
def test_opengan_targets_change_the_gradient(digits, method, tmp_path):
    data = unlearn_data(digits)
    G, _ = train_opengan(data.original, data.forget, argparse.Namespace(seed=0, nz=16, gan_lr=1e-3,
                                                                        batch_size=16, epochs=2))
    targets = opengan_targets(G, data.original, data.forget, 25, seed=0)
    assert targets.features.shape == (25, data.original.feature_dim)
    assert torch.equal(targets.labels, data.forget.y[torch.arange(25) % len(data.forget)])
    cfg = unlearn.resolve(method, batch_size=16, seed=0, kd_T=2.0 if method in ("bad-teaching", "SCRUB") else None)
    model = copy.deepcopy(data.original).requires_grad_(True).train()
    term = OpenGANTerm(unlearn.get_method(method), targets, data, cfg)
    plain = grads(model, forget_ascent_loss(model, data.forget))
    both = grads(model, forget_ascent_loss(model, data.forget) + term(model))
    assert differs(plain, both) > 1e-7


# ---- augmentations return what was asked for ----------------------------------------------------

def test_simple_augmentation_count_shape_labels(digits):
    forget = digits[2]
    extra = simple_augment(forget, 97, seed=0)
    assert len(extra) == 97 and extra.x.shape == (97, *forget.x.shape[1:]) and extra.x.dtype == forget.x.dtype
    assert torch.equal(extra.y, forget.y[torch.arange(97) % len(forget)])
    assert bool((extra.idx < 0).all()) and float(extra.x.min()) >= 0 and float(extra.x.max()) <= 1
    assert not torch.equal(extra.x[:40], forget.x)  # jittered, not copies
    assert torch.equal(simple_augment(forget, 97, seed=0).x, extra.x)  # seeded
    u8 = forget.with_labels(forget.y)
    u8.x = (forget.x * 255).round().to(torch.uint8)
    assert simple_augment(u8, 5, seed=0).x.dtype == torch.uint8
    x = torch.rand(4, 3, 32, 32)
    g = torch.Generator().manual_seed(0)
    for view in (simclr_view(x, g, flip=True), jitter_view(x, g, flip=True)):
        assert view.shape == x.shape and float(view.min()) >= 0 and float(view.max()) <= 1


def test_arpl_generator_trains_saves_loads_and_samples(digits, tmp_path):
    bundle, data, forget, retain = digits
    model = unlearn_data(digits).original
    args = argparse.Namespace(seed=0, nz=8, gan_lr=2e-4, lr=1e-2, beta=0.1, batch_size=16, epochs=2,
                              warmup_steps=5)
    G, summary = train_arpl(model, forget, retain, bundle.num_classes, args)
    assert len(summary["loss_history"]["d"]) == 2
    for policy in ("nearest", "predicted", "random"):
        extra = arpl_samples(G, model, forget, 33, seed=0, labels=policy, num_classes=10)
        assert len(extra) == 33 and extra.x.shape == (33, *forget.x.shape[1:])
        assert int(extra.y.min()) >= 0 and int(extra.y.max()) < 10
        if policy == "nearest":
            assert set(extra.y.tolist()) <= set(forget.y.tolist())
    fs = argparse.Namespace(name="f", sha256="abc")
    meta = {"kind": "arpl", "dataset": "digits", "split_sha": data.split.sha, "forget_set": "f",
            "forget_sha256": "abc"}
    save_generator(tmp_path / "g", G, meta)
    loaded, _ = load_generator(tmp_path / "g", "arpl", data, fs, "hint")
    z = torch.randn(3, 8)
    assert torch.equal(loaded(z), G.eval()(z))
    written = json.loads((tmp_path / "g" / "generator.json").read_text())
    (tmp_path / "g" / "generator.json").write_text(json.dumps({**written, "dataset": "cifar10"}))
    with pytest.raises(UserError, match="trained on data set 'cifar10'"):
        load_generator(tmp_path / "g", "arpl", data, fs, "hint")


# ---- SimCLR, geo_metric, t-SNE -----------------------------------------------------------------

def test_simclr_loss_decreases_on_tiny_data(digits):
    bundle, _, forget, _ = digits
    encoder = build(bundle, "mlp")
    net = SimCLRNet(encoder, ProjectionHead(encoder.feature_dim, 64, 32))
    g = torch.Generator().manual_seed(0)
    x = forget.x.float()
    v1, v2 = simclr_view(x, g), simclr_view(x, g)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(15):
        loss = nt_xent(net(v1), net(v2), 0.5)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.1, losses


def test_geo_metric_by_hand(tmp_path):
    assert geo_metric(90.0, 95.0, 98.0) == pytest.approx(math.sqrt(8.0 * 3.0))
    assert geo_metric(98.0, 97.0, 98.0) == 0.0
    assert geo_metric(float("nan"), 97.0, 98.0) is None
    (tmp_path / "original").mkdir()
    (tmp_path / "original" / "metrics.json").write_text(json.dumps({"accuracy": {"test": 96.0}}))
    out = geo_metric_of_run(tmp_path, {"accuracy": {"forget": 50.0, "test": 94.0}})
    assert out == {"geo_metric": pytest.approx(math.sqrt(46.0 * 2.0)), "geo_metric_original_acc": 96.0}
    assert geo_metric_of_run(tmp_path / "none", {"accuracy": {"forget": 1, "test": 2}})["geo_metric"] is None


def test_tsne_plot_writes_a_png(digits, tmp_path):
    bundle, data, forget, retain = digits
    model = build(bundle)
    path = tsne_plot(model, build(bundle, seed=1), {"forget": forget, "retain": retain, "test": data.test},
                     tmp_path / "tsne.png", max_points=120)
    assert path.read_bytes()[:4] == b"\x89PNG"


# ---- main_forget --------------------------------------------------------------------------------

@pytest.fixture()
def run_dir(trained_digits, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(trained_digits, dst, ignore=shutil.ignore_patterns("unlearn", "retrain", "simclr"))
    return dst


def forget_in_process(run_dir, *args):
    # a one-epoch retrain reference: these runs check the add-ons, not the reference
    return main_forget.main(["--save_dir", str(run_dir), "--num_indexes_to_replace", "40", "--retrain_epochs", "1",
                             *map(str, args)])


def test_main_forget_with_ssl_simple_and_with_simple_augmentation(run_dir):
    train_simclr(SimCLRConfig(save_dir=str(run_dir), device="cpu", epochs=1, out_dim=32))
    assert forget_in_process(run_dir, "--unlearn", "GA", "--ssl", "simple", "--ssl_weight", "1") == 0
    m = json.loads((run_folder(run_dir, "GA", "random_n40_s2") / "metrics.json").read_text())
    assert m["addons"]["ssl"] == "simple" and m["addons"]["regularizer"]["calls"] > 0
    assert m["geo_metric"] is not None and m["geo_metric_original_acc"] > 50
    assert m["accuracy"]["forget"] >= 0 and m["forget_set"]["size"] == 40  # evaluation: real forget set
    assert forget_in_process(run_dir, "--unlearn", "GA", "--augment_forget", "simple", "--augment_count", "25",
                             "--tag", "aug") == 0
    m = json.loads((run_folder(run_dir, "GA-aug", "random_n40_s2") / "metrics.json").read_text())
    assert m["addons"]["augment_count"] == 25 and m["config"]["augment_forget"] == "simple"


def test_bad_input_exits_2_with_one_line(run_dir, capsys):
    before = sorted(p.relative_to(run_dir) for p in run_dir.rglob("*"))
    gen_dir = run_dir.parent / "foreign_generator"
    gen_dir.mkdir()
    (gen_dir / "generator.json").write_text(json.dumps({"kind": "arpl", "dataset": "synthetic"}))
    cases = [(("--ssl", "bogus"), "invalid choice: 'bogus'"),
             (("--ssl", "simple"), "simclr.py"),
             (("--unlearn", "wfisher", "--ssl", "contrastive"), "needs a training loop"),
             (("--unlearn", "retrain", "--ssl", "simple"), "add-ons"),
             (("--augment_forget", "simple", "--augment_count", "0"), "--augment_count"),
             (("--augment_count", "5"), "needs --augment_forget"),
             (("--unlearn", "FT", "--augment_forget", "opengan"), "cannot be used with --unlearn FT"),
             (("--augment_forget", "arpl"), "python -m unlearn.augment train --kind arpl"),
             (("--augment_forget", "arpl", "--generator_path", gen_dir), "trained on data set 'synthetic'")]
    for args, needle in cases:
        with pytest.raises(SystemExit) as exit_info:
            forget_in_process(run_dir, "--unlearn", "GA", *args) if "--unlearn" not in args else \
                forget_in_process(run_dir, *args)
        err = capsys.readouterr().err.strip()
        assert exit_info.value.code == 2, (args, err)
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert needle in err, (needle, err)
    assert sorted(p.relative_to(run_dir) for p in run_dir.rglob("*")) == before  # nothing written
    with pytest.raises(UserError, match="--ssl"):
        addons._check_flags(AddonFlags(ssl="weird"), unlearn.get_method("GA"))
    with pytest.raises(UserError, match="has no forget objective|trains on the retain set only"):
        addons._check_flags(AddonFlags(augment_forget="opengan"), unlearn.get_method("FT"))


def test_cka_and_confusion_figures_next_to_metrics(run_dir):
    assert forget_in_process(run_dir, "--unlearn", "NG", "--unlearn_epochs", "1", "--retrain_epochs", "1",
                             "--cka", "--confusion") == 0
    out = run_folder(run_dir, "NG", "random_n40_s2")
    m = json.loads((out / "metrics.json").read_text())
    assert [p.split("/")[-1] for p in m["cka"]] == ["cka.png", "cka_retrain.png"]
    assert m["confusion"].endswith("confusion.png") and "tsne" not in m
    for name in ("cka.png", "cka_retrain.png", "confusion.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
