"""Each unlearning method's defining behaviour, on a few hundred digits examples (in-process)."""
import copy
import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from conftest import digits_forget_retain
import models
import unlearn
from datasets.base import TensorSet
from engine.errors import Diverged, UserError
from workflows.train import fit
from engine.train import Trainer
from unlearn import UnlearnData, harness
from unlearn.methods import bad_teaching, random_label, scrub, wfisher
from workflows.config import TrainConfig
from unlearn.methods.salun import forget_gradient_saliency, masks_from_saliency

N_FORGET, N_RETAIN = 40, 360


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return digits_forget_retain(tmp_path_factory, N_FORGET, N_RETAIN)


def build(bundle, arch, seed=0):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return models.build_model(arch, bundle.num_classes, bundle.image_shape, bundle.mean, bundle.std)


def train_original(bundle, train, arch, epochs):
    model = build(bundle, arch)
    cfg = TrainConfig(lr=0.05, epochs=epochs, batch_size=32, decreasing_lr=())
    fit(model, train, cfg, seed=0, desc="original")
    return model.eval()


@pytest.fixture(scope="module")
def originals(digits):
    bundle, _, forget, retain = digits
    union = harness.concat(forget, retain)
    return {"mlp": train_original(bundle, union, "mlp", 6),
            "mlp_short": train_original(bundle, union, "mlp", 1),
            "cnn": train_original(bundle, union, "cnn", 2)}


def setup(digits, originals, arch="mlp", forget=None, retain=None):
    """(a trainable copy of the original model, UnlearnData) for one run."""
    bundle, data, f, r = digits
    start = originals[arch]
    original = copy.deepcopy(start).eval().requires_grad_(False)
    ud = UnlearnData(forget if forget is not None else f, retain if retain is not None else r,
                     data.val, data.test, bundle.num_classes, original,
                     lambda: build(bundle, arch.split("_")[0], seed=123))
    return copy.deepcopy(start).train(), ud


def make_cfg(method, **over):
    return unlearn.resolve(method, **{"batch_size": 32, "seed": 0, **over})


def run(method, model, data, mask=None, **over):
    return unlearn.run_method(method, model, dataclasses.replace(data, mask=mask), make_cfg(method, **over))


def mean_ce(model, tset):
    model.eval()
    with torch.no_grad():
        return float(F.cross_entropy(model(tset.x.float()), tset.y))


def l1(model):
    return float(sum(p.detach().abs().sum() for p in model.parameters()))


def params(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


@pytest.fixture
def record_batches(monkeypatch):
    """Record the original indices of every batch any TensorSet yields, with the set's size."""
    log = []
    real = TensorSet.batches

    def spy(self, batch_size, *a, with_index=False, **kw):
        for x, y, idx in real(self, batch_size, *a, with_index=True, **kw):
            log.append((len(self), idx.clone()))
            yield (x, y, idx) if with_index else (x, y)

    monkeypatch.setattr(TensorSet, "batches", spy)
    return log


# ---- registry and options ---------------------------------------------------------------------

def test_aliases_resolve_and_unknown_method_is_a_user_error():
    expected = {"FT_prune": "l1-sparse", "RL_og": "RL", "NegGrad+": "NG", "NegGrad": "GA",
                "neggrad": "GA", "bad_teaching": "bad-teaching", "salun": "SalUn", "salUN": "SalUn",
                "random-label": "RL", "FT": "FT", "retrain": "retrain", "wfisher": "wfisher",
                "SCRUB": "SCRUB", "RL": "RL", "GA": "GA", "NG": "NG"}
    for alias, name in expected.items():
        assert unlearn.canonical(alias) == name
    assert {"FT", "NG", "SCRUB", "retrain", "original"} <= set(unlearn.METHODS)
    with pytest.raises(UserError, match="unknown --unlearn 'nope'"):
        unlearn.canonical("nope")
    with pytest.raises(UserError, match="--unlearn"):
        make_cfg("nope")


def test_apply_defaults_fills_per_method_values_and_names_bad_flags():
    cfg = make_cfg("NegGrad+")
    assert (cfg.unlearn_epochs, cfg.unlearn_lr, cfg.alpha) == (5, 0.01, 0.99)
    assert make_cfg("retrain").unlearn_epochs == 30 and make_cfg("retrain").unlearn_lr == 0.1
    assert make_cfg("FT_prune").alpha == 5e-4 and make_cfg("wfisher").alpha == 0.2
    cfg = make_cfg("SCRUB", unlearn_lr=0.5)
    assert (cfg.unlearn_lr, cfg.msteps, cfg.kd_T, cfg.beta, cfg.gamma) == (0.5, 4, 4.0, 0.001, 0.99)
    assert make_cfg("bad_teaching").kd_T == 1.0 and make_cfg("SalUn").salun_ratio == 0.5
    for method, flag, value in [("NG", "alpha", 1.5), ("FT", "unlearn_lr", -1.0),
                                ("FT", "unlearn_epochs", 0), ("SCRUB", "kd_T", 0.0),
                                ("SCRUB", "msteps", -1), ("SalUn", "salun_ratio", 0.0),
                                ("wfisher", "wf_samples", 0), ("FT_prune", "no_l1_epochs", 11),
                                ("FT", "unlearn_lr", float("nan"))]:
        with pytest.raises(UserError, match=f"--{flag} must be"):
            make_cfg(method, **{flag: value})


def test_retrain_cosine_over_unlearn_epochs_and_warmup_uses_unlearn_lr(digits, originals, monkeypatch):
    seen = []

    class Spy(Trainer):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            seen.append(self)

        def step(self, loss):
            out = super().step(loss)
            self.lrs = getattr(self, "lrs", []) + [self.optimizer.param_groups[0]["lr"]]
            return out

    monkeypatch.setattr(harness, "Trainer", Spy)
    model, data = setup(digits, originals)
    run("retrain", model, data, unlearn_epochs=2)  # MethodConfig has no --epochs: it cannot leak in
    assert isinstance(seen[0].scheduler, torch.optim.lr_scheduler.CosineAnnealingLR)
    assert seen[0].scheduler.T_max == 2
    model, data = setup(digits, originals)
    run("FT", model, data, unlearn_epochs=2, unlearn_lr=1e-3, warmup=1)
    lrs = seen[-1].lrs
    assert max(lrs) <= 1e-3 + 1e-12 and lrs[0] < 1e-3 and lrs[-1] == pytest.approx(1e-3)


# ---- SalUn mask -------------------------------------------------------------------------------

def test_masks_keep_largest_saliency_and_legacy_keeps_smallest():
    sal = {"a": torch.tensor([[0.5, 0.1], [0.9, 0.3]]), "b": torch.tensor([0.7, 0.2, 0.05])}
    flat = torch.cat([sal["a"].flatten(), sal["b"]])
    for ratio in (0.3, 0.5, 1.0):
        k = math.floor(ratio * 7)
        top = set(torch.sort(flat, descending=True).indices[:k].tolist())
        bottom = set(torch.sort(flat).indices[:k].tolist())
        for legacy, want in ((False, top), (True, bottom)):
            m = masks_from_saliency(sal, [ratio], legacy_bottom=legacy)[ratio]
            kept = torch.cat([m["a"].flatten(), m["b"]])
            assert set(torch.nonzero(kept).flatten().tolist()) == want
            assert m["a"].shape == (2, 2) and m["a"].dtype == torch.float32


def test_saliency_is_the_fixed_weight_forget_gradient(digits, originals):
    model, data = setup(digits, originals, "cnn")
    before = params(model)
    sal = forget_gradient_saliency(model, data.forget, 16)
    assert all(torch.equal(before[n], p) for n, p in params(model).items())  # no drift
    # by hand: |sum over batches of grad(-CE batch mean)|, eval mode
    model.eval()
    names = [n for n, _ in model.named_parameters()]
    total = {n: 0 for n in names}
    for start in range(0, len(data.forget), 16):
        x = data.forget.x[start:start + 16].float()
        model.zero_grad()
        (-F.cross_entropy(model(x), data.forget.y[start:start + 16])).backward()
        for n, p in model.named_parameters():
            total[n] = total[n] + p.grad
    for n in names:
        torch.testing.assert_close(sal[n], total[n].abs())
    flat = torch.cat([sal[n].flatten() for n in names])
    for legacy in (False, True):
        mask = masks_from_saliency(sal, [0.3], legacy_bottom=legacy)[0.3]
        kept = torch.cat([mask[n].flatten() for n in names]).bool()
        assert int(kept.sum()) == math.floor(0.3 * flat.numel())
        if legacy:
            assert flat[kept].max() <= flat[~kept].min()
        else:
            assert flat[kept].min() >= flat[~kept].max()


def test_salun_changes_only_weights_inside_its_mask(digits, originals):
    model, data = setup(digits, originals, "cnn")
    before = params(model)
    expected = masks_from_saliency(forget_gradient_saliency(model, data.forget, 32), [0.5])[0.5]
    out = run("SalUn", model, data, unlearn_epochs=2, unlearn_lr=0.05)
    after = params(out)
    changed_inside = 0
    for n, m in expected.items():
        assert torch.equal(after[n][m == 0], before[n][m == 0]), n
        changed_inside += int((after[n][m == 1] != before[n][m == 1]).sum())
    assert changed_inside > 0
    # a mask given by the caller (--mask_path) is used as is, even for RL
    rand = {n: (torch.rand(p.shape, generator=torch.Generator().manual_seed(1)) < 0.2).long()
            for n, p in before.items()}
    model, data = setup(digits, originals, "cnn")
    after = params(run("RL", model, data, unlearn_epochs=1, unlearn_lr=0.05, mask=rand))
    for n, m in rand.items():
        assert torch.equal(after[n][m == 0], before[n][m == 0]), n


# ---- the methods ------------------------------------------------------------------------------

def test_scrub_alternates_exactly_msteps_max_passes(digits, originals, monkeypatch):
    order = []
    for name in ("max_pass", "min_pass"):
        real = getattr(scrub, name)

        def spy(*a, _real=real, _name=name, **kw):
            order.append(_name)
            return _real(*a, **kw)
        monkeypatch.setattr(scrub, name, spy)
    model, data = setup(digits, originals)
    teacher = params(data.original)
    before = params(model)
    out = run("SCRUB", model, data, unlearn_epochs=4, msteps=2)
    assert order == ["max_pass", "min_pass", "max_pass", "min_pass", "min_pass", "min_pass"]
    assert all(torch.equal(teacher[n], p) for n, p in params(data.original).items())
    assert not data.original.training
    assert any(not torch.equal(before[n], p) for n, p in params(out).items())


def test_scrub_kd_loss_is_t2_kl_batchmean():
    s, t = torch.randn(5, 10), torch.randn(5, 10)
    T = 4.0
    p_t, p_s = torch.softmax(t / T, 1), torch.softmax(s / T, 1)
    want = T * T * (p_t * (p_t.log() - p_s.log())).sum(1).mean()
    torch.testing.assert_close(harness.kd_loss(s, t, T), want)


def test_retrain_never_sees_a_forget_example(digits, originals, record_batches):
    model, data = setup(digits, originals)
    # a forget image in any forward pass would make the loss NaN and raise Diverged
    poisoned = TensorSet(torch.full_like(data.forget.x, float("nan")), data.forget.y, data.forget.idx)
    data.forget = poisoned
    out = run("retrain", model, data, unlearn_epochs=2, unlearn_lr=0.05)
    assert out is not model
    seen = torch.cat([idx for _, idx in record_batches])
    assert set(seen.tolist()) == set(data.retain.idx.tolist())
    assert not set(seen.tolist()) & set(poisoned.idx.tolist())
    assert len(seen) == 2 * len(data.retain)
    assert mean_ce(out, data.retain) < math.log(10)


def test_random_labels_are_other_classes_and_redrawn_each_epoch(digits, originals, monkeypatch):
    y = torch.randint(0, 10, (5000,), generator=torch.Generator().manual_seed(0))
    fake = harness.random_other_labels(y, 10, torch.Generator().manual_seed(1))
    assert not (fake == y).any()
    counts = torch.bincount((fake - y) % 10, minlength=10)
    assert counts[0] == 0 and counts[1:].min() > 450  # uniform over the 9 others
    drawn = []
    real = random_label.random_other_labels

    def spy(y, num_classes, gen):
        out = real(y, num_classes, gen)
        drawn.append((y.clone(), out.clone()))
        return out
    monkeypatch.setattr(random_label, "random_other_labels", spy)
    model, data = setup(digits, originals)
    run("RL_og", model, data, unlearn_epochs=3, unlearn_lr=0.01)
    assert len(drawn) == 3
    for true, out in drawn:
        assert torch.equal(true, data.forget.y) and not (out == true).any()
    assert not torch.equal(drawn[0][1], drawn[1][1]) and not torch.equal(drawn[1][1], drawn[2][1])


def test_bad_teaching_targets_come_from_the_right_teacher(digits, originals, monkeypatch):
    calls = []
    real = bad_teaching.teacher_logits

    def spy(x, is_forget, competent, incompetent):
        out = real(x, is_forget, competent, incompetent)
        calls.append((x, is_forget, out, competent(x), incompetent(x), incompetent))
        return out
    monkeypatch.setattr(bad_teaching, "teacher_logits", spy)
    model, data = setup(digits, originals)
    forget_rows = {tuple(r.tolist()) for r in data.forget.x.flatten(1)}
    run("bad_teaching", model, data, unlearn_epochs=1)
    assert len(calls) == math.ceil((N_FORGET + N_RETAIN) / 32)
    n_forget = 0
    for x, is_forget, out, comp, incomp, teacher in calls:
        assert teacher is not data.original and not teacher.training
        assert all((tuple(r.tolist()) in forget_rows) == bool(f) for r, f in zip(x.flatten(1), is_forget))
        torch.testing.assert_close(out[is_forget], incomp[is_forget])
        torch.testing.assert_close(out[~is_forget], comp[~is_forget])
        n_forget += int(is_forget.sum())
    assert n_forget == N_FORGET
    assert not torch.allclose(calls[0][3], calls[0][4])  # the two teachers really differ


def test_wfisher_moves_weights_without_training_and_only_inside_the_mask(digits, originals, monkeypatch):
    def no_training(*a, **kw):
        raise AssertionError("wfisher must not take a training step")
    monkeypatch.setattr(Trainer, "step", no_training)
    model, data = setup(digits, originals, "cnn")
    before = params(model)
    out = run("wfisher", model, data, wf_samples=50, alpha=1.0)
    assert any(not torch.equal(before[n], p) for n, p in params(out).items())
    mask = {n: (torch.rand(p.shape, generator=torch.Generator().manual_seed(2)) < 0.5).float()
            for n, p in before.items()}
    model, data = setup(digits, originals, "cnn")
    after = params(run("wfisher", model, data, wf_samples=50, alpha=1.0, mask=mask))
    changed = 0
    for n, m in mask.items():
        assert torch.equal(after[n][m == 0], before[n][m == 0]), n
        changed += int((after[n][m == 1] != before[n][m == 1]).sum())
    assert changed > 0


def test_wfisher_per_example_gradients_match_autograd_with_batchnorm(digits, originals):
    model, data = setup(digits, originals, "cnn")
    model.eval()
    x, y = data.retain.x[:3].float(), data.retain.y[:3]
    got = wfisher.per_example_gradients(model, x, y)
    for i in range(3):
        model.zero_grad()
        F.cross_entropy(model(x[i:i + 1]), y[i:i + 1]).backward()
        want = torch.cat([p.grad.flatten() for p in model.parameters()])
        torch.testing.assert_close(got[i], want, rtol=1e-4, atol=1e-6)
    total = wfisher.summed_gradient(model, data.retain.subset(torch.arange(3)), 2)
    torch.testing.assert_close(total, got.sum(0), rtol=1e-4, atol=1e-6)


def test_ga_raises_the_forget_loss(digits, originals):
    model, data = setup(digits, originals)
    before = mean_ce(model, data.forget)
    out = run("GA", model, data, unlearn_epochs=3, unlearn_lr=0.1)
    assert mean_ce(out, data.forget) > before + 0.5


def test_ng_draws_fresh_forget_batches_every_cycle(digits, originals, record_batches):
    model, data = setup(digits, originals)
    run("NegGrad+", model, data, unlearn_epochs=2, alpha=0.9)
    forget = [idx for n, idx in record_batches if n == N_FORGET]
    assert len(forget) == 2 * math.ceil(N_RETAIN / 32)  # one forget batch per retain batch
    per_cycle = math.ceil(N_FORGET / 32)
    cycles = [forget[i:i + per_cycle] for i in range(0, len(forget) - per_cycle + 1, per_cycle)]
    for c in cycles:  # each cycle is one full pass over the forget set
        assert sorted(torch.cat(c).tolist()) == sorted(data.forget.idx.tolist())
    first = [c[0].tolist() for c in cycles]
    assert len({tuple(f) for f in first}) == len(first)  # never a replay of an earlier cycle


def test_ft_and_l1_sparse_lower_retain_loss_and_l1_shrinks_weights(digits, originals):
    model, data = setup(digits, originals, "mlp_short")
    start = mean_ce(model, data.retain)
    ft = run("FT", model, data, unlearn_epochs=3, unlearn_lr=0.02)
    assert mean_ce(ft, data.retain) < start - 0.05
    model, data = setup(digits, originals, "mlp_short")
    sparse = run("FT_prune", model, data, unlearn_epochs=3, unlearn_lr=0.02, alpha=1e-3)
    assert mean_ce(sparse, data.retain) < start - 0.05
    assert l1(sparse) < l1(ft) - 1.0
    model, data = setup(digits, originals, "mlp_short")
    same = run("FT_prune", model, data, unlearn_epochs=3, unlearn_lr=0.02, alpha=1e-3, no_l1_epochs=3)
    assert all(torch.equal(a, b) for a, b in zip(params(same).values(), params(ft).values()))


def test_l1_weight_decays_linearly_then_stops():
    from unlearn.methods.l1_sparse import l1_weight
    assert [l1_weight(1.0, e, 5, 1) for e in range(5)] == [1.0, 0.75, 0.5, 0.25, 0.0]


def test_nan_loss_raises_diverged(digits, originals):
    model, data = setup(digits, originals)
    with pytest.raises(Diverged):
        run("FT", model, data, unlearn_epochs=2, unlearn_lr=1e30)
    model, data = setup(digits, originals)
    x = data.retain.x.clone()
    x[5] = float("nan")
    data.retain = TensorSet(x, data.retain.y, data.retain.idx)
    for method in ("NG", "SCRUB", "bad-teaching", "wfisher"):
        with pytest.raises(Diverged):
            run(method, copy.deepcopy(model), data, unlearn_epochs=1, wf_samples=10)


def test_same_seed_gives_identical_weights(digits, originals):
    results = []
    for method, seed in [("RL", 0), ("RL", 0), ("RL", 1), ("NG", 3), ("NG", 3)]:
        model, data = setup(digits, originals)
        results.append(params(run(method, model, data, unlearn_epochs=1, unlearn_lr=0.01, seed=seed)))

    def same(a, b):
        return all(torch.equal(a[n], b[n]) for n in a)
    assert same(results[0], results[1]) and not same(results[0], results[2])
    assert same(results[3], results[4])
