"""Linear CKA (unbiased HSIC), the layer-by-layer CKA matrix of two models, the confusion matrix
and their PNGs."""
import itertools

import pytest
import torch

import models
from datasets.base import TensorSet
from evaluation.accuracy import accuracy
from evaluation.cka import cka_layers, cka_matrix, hsic1, linear_cka, write_cka_png
from evaluation.confusion import confusion_matrix, write_confusion_png

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def random_set(n, shape=(3, 8, 8), classes=10, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return TensorSet(torch.rand(n, *shape, generator=gen), torch.randint(0, classes, (n,), generator=gen),
                     torch.arange(n))


def build(arch, seed, shape=(3, 8, 8)):
    torch.manual_seed(seed)
    return models.build_model(arch, 10, shape, [0.5] * shape[0], [0.25] * shape[0])


def brute_force_hsic1(K, L):
    """The U-statistic over distinct quadruples (i, j, q, r) that HSIC1 is (Song et al. 2012)."""
    n = K.shape[0]
    total = 0.0
    for i, j, q, r in itertools.permutations(range(n), 4):
        total += K[i, j] * L[i, j] + K[i, j] * L[q, r] - 2 * K[i, j] * L[i, q]
    return total / (n * (n - 1) * (n - 2) * (n - 3))


def test_hsic1_is_the_unbiased_u_statistic():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(7, 3, generator=gen, dtype=torch.float64)
    y = torch.randn(7, 5, generator=gen, dtype=torch.float64)
    K, L = x @ x.T, y @ y.T
    assert hsic1(K, L).item() == pytest.approx(float(brute_force_hsic1(K, L)), rel=1e-9)


def test_cka_is_invariant_to_isotropic_scaling_and_orthogonal_transforms():
    gen = torch.Generator().manual_seed(2)
    def randn(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64)
    x = randn(120, 16)
    y = x[:, :8] @ randn(8, 12) + 0.5 * randn(120, 12)
    q, _ = torch.linalg.qr(randn(16, 16))
    base = linear_cka(x, y)
    assert 0.2 < base < 0.99  # related but not identical features: the checks below can fail
    assert linear_cka(7.5 * x, y) == pytest.approx(base, abs=1e-9)
    assert linear_cka(x @ q, y) == pytest.approx(base, abs=1e-9)
    assert linear_cka(x, 0.01 * y) == pytest.approx(base, abs=1e-9)
    assert linear_cka(3 * x @ q, x) == pytest.approx(1.0, abs=1e-9)


def test_cka_of_independent_features_is_near_zero():
    gen = torch.Generator().manual_seed(3)
    values = [linear_cka(torch.randn(64, 256, generator=gen), torch.randn(64, 256, generator=gen))
              for _ in range(5)]
    # the biased estimator gives about 0.8 here (n = 64 examples of 256-d features)
    assert abs(sum(values) / len(values)) < 0.03 and max(abs(v) for v in values) < 0.08, values


@pytest.mark.parametrize("arch", sorted(models.MODELS))
def test_self_cka_is_one_on_the_diagonal_and_symmetric(arch):
    model = build(arch, 0)
    data = random_set(24)
    result = cka_matrix(model, model, data, batch_size=12)
    names = [name for name, _ in cka_layers(model)]
    assert result.names_a == result.names_b == names and len(names) >= 3
    assert result.matrix.shape == (len(names), len(names)) and result.n_examples == 24
    assert torch.allclose(torch.diagonal(result.matrix), torch.ones(len(names), dtype=torch.float64), atol=1e-6)
    assert torch.allclose(result.matrix, result.matrix.T, atol=1e-9)
    assert model.training  # the caller's mode is restored


def test_two_models_cka_matches_features_and_accumulates_batch_means():
    a, b = build("mlp", 0, (1, 8, 8)), build("mlp", 1, (1, 8, 8))
    data = random_set(40, (1, 8, 8))
    whole = cka_matrix(a, b, data, batch_size=40)
    with torch.no_grad():
        assert whole.matrix[-1, -1].item() == pytest.approx(linear_cka(a(data.x), b(data.x)), abs=1e-9)
    assert not torch.allclose(whole.matrix, whole.matrix.T)  # two different models
    # two batches of 20: the mean of the per-batch HSICs, then one ratio
    halves = cka_matrix(a, b, data, batch_size=20)
    with torch.no_grad():
        fa, fb = a(data.x).double(), b(data.x).double()
    grams = [tuple(f[s] @ f[s].T for f in (fa, fb)) for s in (slice(0, 20), slice(20, 40))]
    kl, kk, ll = 0.0, 0.0, 0.0
    for K, L in grams:
        kl, kk, ll = kl + hsic1(K, L) / 2, kk + hsic1(K, K) / 2, ll + hsic1(L, L) / 2
    assert halves.matrix[-1, -1].item() == pytest.approx((kl / (kk * ll).sqrt()).item(), abs=1e-9)
    assert halves.n_examples == 40
    capped = cka_matrix(a, b, data, max_examples=10, batch_size=64)
    assert capped.n_examples == 10


def test_confusion_matrix_counts(tmp_path):
    model = build("cnn", 0, (1, 8, 8)).eval()
    data = random_set(50, (1, 8, 8), seed=4)
    counts = confusion_matrix(model, data)
    assert counts.shape == (10, 10) and counts.dtype == torch.int64
    assert int(counts.sum()) == 50
    assert int(counts.trace()) == round(accuracy(model, data) * 50 / 100)
    assert torch.equal(counts.sum(1), torch.bincount(data.y, minlength=10))  # rows are true classes


def test_pngs_are_written(tmp_path):
    model = build("cnn", 0, (1, 8, 8))
    data = random_set(16, (1, 8, 8))
    result = cka_matrix(model, build("cnn", 1, (1, 8, 8)), data, batch_size=8)
    for path in (write_cka_png(result, tmp_path / "cka.png", label_a="unlearned", label_b="original"),
                 write_confusion_png(confusion_matrix(model, data), tmp_path / "confusion.png")):
        assert path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 1000
