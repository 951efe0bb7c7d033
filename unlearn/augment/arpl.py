"""`--augment_forget arpl`: confusing images near the forget set from a generator trained with
Adversarial Reciprocal Points.

Training (`python -m unlearn.augment train --kind arpl`): the embedding is the model being
unlearned (`model.features`, frozen, eval mode), so "confusing" means confusing for that model.
Learnable reciprocal points P (one per class) and a radius R are fit with ARPLoss on the training
features; a DCGAN-style generator G learns to imitate the FORGET images (the discriminator sees
forget images as real) while maximising the entropy of its samples over the reciprocal points
(`fake_loss`). Each step: D step, G step (BCE + beta * fake_loss), then a reciprocal-points step
(ARPLoss on real features + beta * fake_loss on a fresh generated batch).

Sampling: `count` images from G (eval mode) with labels by policy: `nearest` (label of the nearest
forget example in the model's feature space; default), `predicted` (the model's own prediction)
or `random` (uniform, as the capstone).
"""
import time

import torch
import torch.nn.functional as F
from torch import nn

from engine.errors import UserError
from engine.seed import generator, seeded_init
from .gan import ImageDiscriminator, ImageGenerator, gan_step, noise
from .simple import as_tensor_set

ARPL_TRAIN = 411  # generator offsets
ARPL_SAMPLE = 412
LABEL_POLICIES = ("nearest", "predicted", "random")


class ReciprocalPoints(nn.Module):
    """ARPLoss (Chen et al. 2021) with the capstone's settings: points 0.1*N(0, 1), radius 0,
    temperature 1, margin weight 0.1."""

    def __init__(self, num_classes, dim):
        super().__init__()
        self.points = nn.Parameter(0.1 * torch.randn(num_classes, dim))
        self.radius = nn.Parameter(torch.zeros(1))

    def sq_dist(self, f):
        """mean over dimensions of (f - P_k)^2, [B, classes]."""
        return ((f[:, None, :] - self.points[None]) ** 2).mean(2)

    def logits(self, f):
        """l_k = ||f - P_k||^2 / d - f . P_k: far from class k's reciprocal point = class k."""
        return self.sq_dist(f) - f @ self.points.t()

    def loss(self, f, y, temp=1.0, weight_pl=0.1):
        ce = F.cross_entropy(self.logits(f) / temp, y)
        d_c = ((f - self.points[y]) ** 2).mean(1)
        return ce + weight_pl * F.relu(d_c - self.radius + 1).mean()

    def fake_loss(self, f):
        """exp(-mean entropy) of softmax over the reciprocal-point distances: minimising it makes
        samples equally far from every reciprocal point, i.e. maximally ambiguous."""
        logp = F.log_softmax(self.sq_dist(f), 1)
        return torch.exp((logp.exp() * logp).sum(1).mean())


@torch.no_grad()
def features_of(model, x, batch_size=512):
    model.eval()
    return torch.cat([model.features(x[s:s + batch_size]).float() for s in range(0, len(x), batch_size)])


@torch.no_grad()
def encode_set(model, tset, batch_size=512):
    """(features, labels) of a whole set, un-augmented, eval mode."""
    model.eval()
    feats, labels = [], []
    for x, y in tset.batches(batch_size):
        feats.append(model.features(x).float())
        labels.append(y)
    return torch.cat(feats), torch.cat(labels)


def train_arpl(model, forget, train, num_classes, args):
    """Train G (and D, P, R); returns (G in eval mode, summary). `model` is frozen here."""
    if len(forget) < 2:
        raise UserError("ARPL needs at least 2 forget examples to train a generator")
    device = next(model.parameters()).device
    gen = generator(args.seed, ARPL_TRAIN)
    model.eval().requires_grad_(False)
    x_forget = next(forget.batches(len(forget)))[0]
    f_train, y_train = encode_set(model, train)
    nets = seeded_init(lambda: (ImageGenerator(args.nz, x_forget.shape[1:]), ImageDiscriminator(x_forget.shape[1:]),
                                ReciprocalPoints(num_classes, f_train.shape[1])), args.seed)
    G, D, P = (net.to(device) for net in nets)
    opt_g = torch.optim.Adam(G.parameters(), lr=args.gan_lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=args.gan_lr, betas=(0.5, 0.999))
    opt_p = torch.optim.Adam(P.parameters(), lr=args.lr)
    # reciprocal points first fit the (fixed) features, so the GAN starts from meaningful points
    for _ in range(args.warmup_steps):
        pos = torch.randint(0, len(f_train), (min(256, len(f_train)),), generator=gen).to(device)
        opt_p.zero_grad()
        P.loss(f_train[pos], y_train[pos]).backward()
        opt_p.step()
    batch = max(2, min(args.batch_size, len(forget)))
    history, start = [], time.perf_counter()
    for epoch in range(args.epochs):
        order = torch.randperm(len(forget), generator=gen)
        sums = torch.zeros(3)
        steps = 0
        for s in range(0, len(forget) - batch + 1, batch):
            real = x_forget[order[s:s + batch].to(device)]
            d_loss, g_loss, _ = gan_step(G, D, opt_g, opt_d, real, args.nz, gen,
                                         lambda fake: args.beta * P.fake_loss(model.features(fake).float()))
            pos = torch.randint(0, len(f_train), (batch,), generator=gen).to(device)
            with torch.no_grad():
                other = model.features(G(noise(batch, args.nz, gen, device))).float()
            opt_p.zero_grad()
            p_loss = P.loss(f_train[pos], y_train[pos]) + args.beta * P.fake_loss(other)
            p_loss.backward()
            opt_p.step()
            sums += torch.tensor([d_loss.item(), g_loss.item(), p_loss.item()])
            steps += 1
        history.append((sums / max(steps, 1)).tolist())
    G.eval().requires_grad_(False)
    with torch.no_grad():
        sample = G(noise(256, args.nz, gen, device))
        ambiguity = float(P.fake_loss(features_of(model, sample)))
    summary = {"epochs": args.epochs, "nz": args.nz, "beta": args.beta, "gan_lr": args.gan_lr,
               "lr": args.lr, "batch_size": batch, "loss_history": {"d": [h[0] for h in history],
                                                                   "g": [h[1] for h in history],
                                                                   "points": [h[2] for h in history]},
               "fake_loss_of_samples": ambiguity, "wall_time_s": time.perf_counter() - start}
    return G, summary


@torch.no_grad()
def arpl_samples(G, model, forget, count, seed, labels="nearest", num_classes=None, batch_size=512):
    """`count` generated images appended to the forget set, labelled by `labels` policy."""
    if labels not in LABEL_POLICIES:
        raise UserError(f"unknown --arpl_labels {labels!r}; choose one of {', '.join(LABEL_POLICIES)}")
    gen = generator(seed, ARPL_SAMPLE)
    device = forget.x.device
    G = G.to(device).eval()
    images = torch.cat([G(noise(min(batch_size, count - s), G.nz, gen, device))
                        for s in range(0, count, batch_size)])
    if labels == "random":
        y = torch.randint(0, num_classes, (count,), generator=gen)
    elif labels == "predicted":
        model.eval()
        y = torch.cat([model(images[s:s + batch_size]).argmax(1) for s in range(0, count, batch_size)])
    else:
        f_forget = F.normalize(encode_set(model, forget)[0], dim=1)
        f_new = F.normalize(features_of(model, images), dim=1)
        y = forget.y.to(device)[(f_new @ f_forget.t()).argmax(1)]
    return as_tensor_set(images, y.to(forget.y.device), forget)
