"""Layer-by-layer linear CKA between two models (the capstone's CKA heat-map, done on any device).

    result = cka_matrix(unlearned, original, forget_set)      # up to 1,000 examples, batches of 64
    write_cka_png(result, out / "cka.png", label_a="unlearned", label_b="original")

CKA(K, L) = HSIC1(K, L) / sqrt(HSIC1(K, K) · HSIC1(L, L)) on linear Gram matrices K = X Xᵀ of the
flattened layer outputs, with HSIC1 the unbiased estimator of Song et al. (2012), which works on
Gram matrices with a zeroed diagonal. Independent features therefore give a CKA near 0 at any
batch size (the biased estimator drifts upwards as the batch shrinks).

Minibatches: like the capstone, HSIC1(K, L), HSIC1(K, K) and HSIC1(L, L) are each averaged over
the batches and CKA is formed once from the three means (a ratio of means, not a mean of per-batch
CKAs). HSIC1 is unbiased, so each mean is an unbiased estimate of the population HSIC and the
result does not depend on how the examples are batched beyond estimator noise. A trailing batch of
fewer than 4 examples is skipped (HSIC1 divides by n(n-3)). A pair whose self-similarity is not
positive (e.g. a layer that outputs a constant) gets CKA 0, as the capstone set its NaN to 0.

Layers: for every top-level child of the model, the children of a `Sequential` (cnn/mlp/vgg
bodies, the ResNet stem and stages, the fastnet blocks) or else the child itself (pools, the VGG
head, `fc`); `Normalize`, `Identity` and `Flatten` are left out: they repeat their input.
"""
from dataclasses import dataclass

import torch
from torch import nn

from engine.errors import UserError
from engine.io import write_png
from models import Normalize
from .accuracy import eval_mode

MAX_EXAMPLES = 1000
BATCH_SIZE = 64
MIN_BATCH = 4  # HSIC1 divides by n(n-3)
PASS_THROUGH = (Normalize, nn.Identity, nn.Flatten)


@dataclass
class CKAResult:
    matrix: torch.Tensor   # [layers of model a, layers of model b], float64 on the CPU
    names_a: list
    names_b: list
    n_examples: int        # examples that entered the estimate


def zero_diagonal(gram):
    return gram - torch.diag_embed(torch.diagonal(gram, dim1=-2, dim2=-1))


def hsic1(K, L):
    """Unbiased HSIC of two symmetric [n, n] Gram matrices (leading dimensions broadcast), n >= 4:
    1/(n(n-3)) · [tr(K̃L̃) + 1ᵀK̃1 · 1ᵀL̃1 / ((n-1)(n-2)) − 2/(n-2) · 1ᵀK̃L̃1],
    with K̃, L̃ the Gram matrices with zeroed diagonals."""
    n = K.shape[-1]
    if n < MIN_BATCH:
        raise ValueError(f"the unbiased HSIC needs at least {MIN_BATCH} examples, got {n}")
    K, L = zero_diagonal(K), zero_diagonal(L)
    trace = (K * L).sum((-2, -1))  # tr(KL) for symmetric L
    sums = K.sum((-2, -1)) * L.sum((-2, -1)) / ((n - 1) * (n - 2))
    cross = (K.sum(-1) * L.sum(-1)).sum(-1)  # 1ᵀKL1 = (K1)·(L1) for symmetric K
    return (trace + sums - 2.0 * cross / (n - 2)) / (n * (n - 3))


def cka_from_hsic(kl, kk, ll):
    """CKA from (averaged) HSIC values: kl [a, b], kk [a], ll [b]. A pair with a non-positive
    self-similarity (a constant layer, or estimator noise below 0) gets 0, as the capstone's NaN."""
    return torch.nan_to_num(kl / torch.sqrt(torch.outer(kk, ll)), nan=0.0, posinf=0.0, neginf=0.0)


def gram(features):
    """Linear Gram matrix of [n, ...] features, in float64 (the HSIC sums cancel terms)."""
    x = features.flatten(1).double()
    return x @ x.T


def linear_cka(x, y):
    """Linear CKA (unbiased HSIC) of two feature matrices of the same n >= 4 examples, one batch."""
    K, L = gram(x), gram(y)
    return cka_from_hsic(hsic1(K, L)[None, None], hsic1(K, K)[None], hsic1(L, L)[None]).item()


def cka_layers(model):
    """(name, module) of the layers compared for `model` (see the module docstring)."""
    layers = []
    for name, child in model.named_children():
        parts = child.named_children() if isinstance(child, nn.Sequential) else [("", child)]
        for sub, module in parts:
            if not isinstance(module, PASS_THROUGH):
                layers.append((f"{name}.{sub}" if sub else name, module))
    if not layers:
        raise ValueError(f"{type(model).__name__} has no layers to compare")
    return layers


class LayerGrams:
    """Forward hooks that turn each listed layer's output into its Gram matrix, batch by batch."""

    def __init__(self, model):
        self.model = model
        self.layers = cka_layers(model)
        self.grams = {}

    def hook(self, name):
        def keep(module, inputs, output):
            out = output[0] if isinstance(output, (tuple, list)) else output
            self.grams[name] = gram(out.detach())
        return keep

    @torch.no_grad()
    def __call__(self, x):
        """[layers, n, n] Gram matrices of one batch, on the model's device."""
        handles = [m.register_forward_hook(self.hook(name)) for name, m in self.layers]
        try:
            self.grams = {}
            self.model(x.to(next(self.model.parameters()).device))
        finally:
            for h in handles:
                h.remove()
        return torch.stack([self.grams[name] for name, _ in self.layers])


def cka_matrix(model_a, model_b, tset, max_examples=MAX_EXAMPLES, batch_size=BATCH_SIZE):
    """CKA between every layer of model_a (rows) and of model_b (columns) on the first
    `max_examples` examples of `tset` (an index-tracked set, no augmentation), both models in eval
    mode; Gram matrices stay on each model's device, HSICs are accumulated on model_a's."""
    n = min(len(tset), max_examples)
    if n < MIN_BATCH or batch_size < MIN_BATCH:
        raise UserError(f"CKA needs batches of at least {MIN_BATCH} examples; got a set of {len(tset)} "
                        f"and batch size {batch_size}")
    grams_a, grams_b = LayerGrams(model_a), LayerGrams(model_b)
    device = next(model_a.parameters()).device
    terms, used = [], 0
    with eval_mode(model_a), eval_mode(model_b):
        for x, _ in tset.subset(torch.arange(n)).batches(batch_size):
            if len(x) < MIN_BATCH:
                continue
            Ka, Kb = grams_a(x), grams_b(x).to(device)
            terms.append((hsic1(Ka[:, None], Kb[None]), hsic1(Ka, Ka), hsic1(Kb, Kb)))
            used += len(x)
    kl, kk, ll = (torch.stack(t).mean(0) for t in zip(*terms))
    return CKAResult(cka_from_hsic(kl, kk, ll).cpu(), [name for name, _ in grams_a.layers],
                     [name for name, _ in grams_b.layers], used)


def write_cka_png(result, path, label_a="model A", label_b="model B", title=None):
    """Heat-map of a CKAResult (rows: label_a's layers, bottom to top; columns: label_b's)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows, cols = result.matrix.shape
    fig, ax = plt.subplots(figsize=(max(4.0, 0.3 * cols + 2.5), max(3.5, 0.3 * rows + 2.0)))
    image = ax.imshow(result.matrix.numpy(), origin="lower", cmap="magma", vmin=0, vmax=1,
                      aspect="auto")
    ax.set_xticks(range(cols), result.names_b, rotation=90, fontsize=7)
    ax.set_yticks(range(rows), result.names_a, fontsize=7)
    ax.set_xlabel(f"{label_b} layers")
    ax.set_ylabel(f"{label_a} layers")
    ax.set_title(title or f"linear CKA, {label_a} vs {label_b} ({result.n_examples} examples)")
    fig.colorbar(image, ax=ax, label="CKA")
    fig.tight_layout()
    return write_png(path, fig)
