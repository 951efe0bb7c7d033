"""Extra loss terms added to ANY gradient-based unlearning method through
`engine.train.Trainer(regularizer=...)` (set by the pipeline as `cfg.regularizer`).

A term is a callable `term(model) -> scalar tensor` that draws its own forget / retain batches
from private generators (engine.seed.generator) and is differentiable in the model's weights:
the capstone computed its SSL loss under `torch.no_grad()`, so it was a constant that changed
nothing; here the gradient goes through the frozen SimCLR head into the model.
"""
import torch
import torch.nn.functional as F

from datasets.base import to_float
from engine.seed import generator
from .simclr import nt_xent
from .views import simclr_view

SSL_FORGET_STREAM = 301  # generator offsets, apart from the methods' (unlearn/harness.py)
SSL_RETAIN_STREAM = 302
SSL_VIEWS = 303


def images_at(tset, positions):
    """Float [0,1] images at these positions, copying only those rows (sets may be views)."""
    return to_float(tset.subset(positions).x)


def endless_positions(n, batch, gen):
    """Positions 0..n-1 in fresh random order, in full batches (all of them when n < batch)."""
    batch = min(batch, n)
    while True:
        order = torch.randperm(n, generator=gen)
        for start in range(0, n - batch + 1, batch):
            yield order[start:start + batch]


def split_batch(batch_size, n_forget, n_retain):
    """Forget / retain rows of one SSL batch, in the proportion of the two sets (the capstone
    mixed them uniformly, so p = n_f/B was about |F|/(|F|+|R|)); at least one row of each."""
    batch_size = max(2, int(batch_size))
    k = round(batch_size * n_forget / max(1, n_forget + n_retain))
    k = min(max(k, 1), batch_size - 1, n_forget)
    return k, min(batch_size - k, n_retain)


def forget_weight(is_forget):
    """w = 1/(1 + e^(1-2p)) = sigmoid(2p - 1) with p the forget fraction of the batch (the
    capstone's weighting: with few forget rows, w < 1/2 and the forget term weighs more)."""
    p = is_forget.float().mean()
    return torch.sigmoid(2 * p - 1)


def simple_ssl_loss(projected, simclr_out, is_forget):
    """The capstone's `simple` loss: s_i = cos(h_i, g_i);
    L = (1-w)/B * sum_forget s_i - w/B * sum_retain s_i  (lower similarity on forget, raise it on
    retain)."""
    s = F.cosine_similarity(projected.float(), simclr_out.float(), dim=1)
    y = is_forget.float()
    w = forget_weight(is_forget)
    b = len(s)
    return (1 - w) * (y * s).sum() / b - w * ((1 - y) * s).sum() / b


def contrastive_ssl_loss(z_view0, z_view1, is_forget, temperature=1.0):
    """The capstone's `original` (contrastive) loss: NT-Xent whose positive similarity is
    sign-flipped for forget rows."""
    return nt_xent(z_view0, z_view1, temperature, flip=is_forget)


@torch.no_grad()
def simclr_outputs(encoder, head, tset, batch_size=512):
    """g = SimCLR model output for every example of a set (frozen and un-augmented, so it is the
    same in every step: precomputed once)."""
    out = [head(encoder.features(x)).float() for x, _ in tset.batches(batch_size)]
    return torch.cat(out) if out else torch.zeros(0, head.sizes["out_dim"])


class SSLTerm:
    """`--ssl simple|contrastive` as a regularizer: lambda * L_ssl on a fresh forget+retain batch."""

    def __init__(self, mode, weight, head, forget, retain, batch_size, seed, targets=None,
                 temperature=1.0, flip=False):
        self.mode, self.weight, self.head = mode, float(weight), head
        self.forget, self.retain = forget, retain
        self.targets = targets  # (forget, retain) SimCLR outputs for mode simple
        self.temperature, self.flip = temperature, flip
        k_f, k_r = split_batch(batch_size, len(forget), len(retain))
        self.f_stream = endless_positions(len(forget), k_f, generator(seed, SSL_FORGET_STREAM))
        self.r_stream = endless_positions(len(retain), k_r, generator(seed, SSL_RETAIN_STREAM))
        self.view_gen = generator(seed, SSL_VIEWS)

    def batch(self):
        pf, pr = next(self.f_stream), next(self.r_stream)
        x = torch.cat([images_at(self.forget, pf), images_at(self.retain, pr)])
        is_forget = torch.cat([torch.ones(len(pf)), torch.zeros(len(pr))]).to(x.device)
        return x, is_forget, pf, pr

    def project(self, model, x):
        return self.head(model.features(x))

    def __call__(self, model):
        x, is_forget, pf, pr = self.batch()
        if self.mode == "simple":
            g = torch.cat([self.targets[0][pf.to(self.targets[0].device)],
                           self.targets[1][pr.to(self.targets[1].device)]]).to(x.device)
            loss = simple_ssl_loss(self.project(model, x), g, is_forget)
        else:
            view = simclr_view(x, self.view_gen, self.flip)
            z = self.project(model, torch.cat([x, view]))  # one forward: BN sees both views
            loss = contrastive_ssl_loss(z[:len(x)], z[len(x):], is_forget, self.temperature)
        return self.weight * loss


class Regularizer:
    """The sum of named terms; keeps the running mean of each for metrics.json."""

    def __init__(self, terms):
        self.terms = dict(terms)
        self.sums = {name: 0.0 for name in self.terms}
        self.calls = 0

    def __call__(self, model):
        total = None
        for name, term in self.terms.items():
            value = term(model)
            self.sums[name] += float(value.detach())
            total = value if total is None else total + value
        self.calls += 1
        return total

    def summary(self):
        return {"calls": self.calls,
                "mean": {n: (s / self.calls if self.calls else None) for n, s in self.sums.items()}}
