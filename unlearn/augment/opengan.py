"""`--augment_forget opengan`: a GAN over the penultimate-layer features
of the forget set, whose samples pass through a linear head to give extra soft targets.

Training (`python -m unlearn.augment train --kind opengan`): features = `model.features` of the
un-augmented forget images (model frozen, eval mode); a plain BCE GAN (D: Adam(lr/2), G: Adam(lr),
betas (0.5, 0.999)) learns their distribution.

Use: for each of `count` targets i (forget example j = i mod |F|), draw K = 100 candidates and
keep the one with the highest cosine similarity to f_j, the original model's feature of that
example. The generator is frozen, so this is done ONCE per run (the capstone reloaded the
generator from disk for every batch). How the targets enter a method is `USES`, by the kind
the method registered with.
"""
import time

import torch
import torch.nn.functional as F

from engine.errors import UserError
from engine.seed import generator, seeded_init
from unlearn.harness import distill_kl, kd_loss, random_other_labels
from unlearn.ssl.regularizer import endless_positions, images_at
from .arpl import encode_set
from .gan import FeatureDiscriminator, FeatureGenerator, gan_step, noise

OPENGAN_TRAIN = 421  # generator offsets
OPENGAN_SAMPLE = 422
OPENGAN_STREAM = 423
OPENGAN_LABELS = 424
CANDIDATES = 100


def train_opengan(model, forget, args):
    if len(forget) < 2:
        raise UserError("OpenGAN needs at least 2 forget examples to train a generator")
    device = next(model.parameters()).device
    gen = generator(args.seed, OPENGAN_TRAIN)
    real_all, _ = encode_set(model.requires_grad_(False), forget)
    G, D = seeded_init(lambda: (FeatureGenerator(args.nz, real_all.shape[1]),
                                FeatureDiscriminator(real_all.shape[1])), args.seed)
    G, D = G.to(device), D.to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=args.gan_lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=args.gan_lr / 2, betas=(0.5, 0.999))
    batch = max(2, min(args.batch_size, len(forget)))
    history, start = [], time.perf_counter()
    for _ in range(args.epochs):
        order = torch.randperm(len(forget), generator=gen)
        sums, steps = torch.zeros(2), 0
        for s in range(0, len(forget) - batch + 1, batch):
            real = real_all[order[s:s + batch].to(device)]
            d_loss, g_loss, _ = gan_step(G, D, opt_g, opt_d, real, args.nz, gen)
            sums += torch.tensor([d_loss.item(), g_loss.item()])
            steps += 1
        history.append((sums / max(steps, 1)).tolist())
    G.eval().requires_grad_(False)
    with torch.no_grad():
        fake = G(noise(len(forget), args.nz, gen, device))
        best = F.cosine_similarity(F.normalize(real_all, dim=1)[:, None], F.normalize(fake, dim=1)[None],
                                   dim=2).max(1).values.mean()
    summary = {"epochs": args.epochs, "nz": args.nz, "gan_lr": args.gan_lr, "batch_size": batch,
               "loss_history": {"d": [h[0] for h in history], "g": [h[1] for h in history]},
               "mean_best_cosine_to_forget": float(best), "wall_time_s": time.perf_counter() - start}
    return G, summary


class FeatureTargets:
    """`count` generated features, each matched to a forget example (`source`), with its label."""

    def __init__(self, features, labels, source):
        self.features, self.labels, self.source = features, labels, source

    def __len__(self):
        return len(self.labels)


@torch.no_grad()
def opengan_targets(G, original, forget, count, seed, candidates=CANDIDATES, chunk=64):
    device = forget.x.device
    G = G.to(device).eval()
    gen = generator(seed, OPENGAN_SAMPLE)
    real, _ = encode_set(original, forget)
    real = F.normalize(real, dim=1)
    source = torch.arange(count) % len(forget)
    picked = []
    for s in range(0, count, chunk):
        src = source[s:s + chunk].to(device)
        cand = G(noise(len(src) * candidates, G.nz, gen, device)).view(len(src), candidates, -1)
        sim = (F.normalize(cand, dim=2) * real[src][:, None]).sum(2)
        picked.append(cand[torch.arange(len(src), device=device), sim.argmax(1)])
    return FeatureTargets(torch.cat(picked), forget.y[source.to(forget.y.device)].to(device), source)


# ---- how a method uses the generated features ---------------------------------------------------
# KD methods, as the capstone's bad-teaching and SCRUB: the features go through a teacher's head
# to give soft targets for the real forget image they were matched to. Other methods: the features
# go through the MODEL's own head as extra forget examples under the method's forget objective.

def _bad_teaching(t, model, x, f, y, pos):
    """The capstone's bad-teaching averages KL(t||s) with KL(t2||s), where t2 differs from t only on
    forget rows (incompetent head on the generated feature instead of the incompetent teacher on
    the image): the extra term is 1/2 * share * [KL(a||s) - KL(u||s)] on forget rows."""
    s = model(x)
    return 0.5 * t.share * (distill_kl(s, t.soft_a[pos], t.T) - distill_kl(s, t.soft_u[pos], t.T))


def _scrub(t, model, x, f, y, pos):
    """The capstone's SCRUB: KL_f += KL(a_F || s_F) with a from the competent head, maximised
    with the forget rows' weight n_f/B and the loss's 1/2."""
    return -0.5 * t.share * kd_loss(model(x), t.soft_a[pos], t.T)


def _ascent(t, model, x, f, y, pos):
    return -t.scale * F.cross_entropy(model.fc(f), y)


def _random_label(t, model, x, f, y, pos):
    return t.share * F.cross_entropy(model.fc(f), random_other_labels(y, t.num_classes, t.label_gen))


# by the `opengan=` kind a method registers with (unlearn/methods/*.py)
USES = {"bad-teaching": _bad_teaching, "scrub": _scrub, "ascent": _ascent, "random-label": _random_label}
KD_KINDS = ("bad-teaching", "scrub")


class OpenGANTerm:
    """Regularizer term feeding the generated targets to the method, the way the method's
    registered `opengan` kind says (the add-on checks beforehand that it has one)."""

    def __init__(self, method, targets, data, cfg):
        self.kind, self.use, self.targets = method.opengan, USES[method.opengan], targets
        self.forget = data.forget
        self.share = len(data.forget) / max(1, len(data.forget) + len(data.retain))
        self.T = cfg.kd_T or 1.0
        self.scale = method.forget_weight(cfg)
        self.num_classes = data.num_classes
        self.label_gen = generator(cfg.seed, OPENGAN_LABELS)
        self.stream = endless_positions(len(targets), cfg.batch_size, generator(cfg.seed, OPENGAN_STREAM))
        self.soft_a = self.soft_u = None
        if self.kind in KD_KINDS:
            self._kd_targets(data)

    @torch.no_grad()
    def _kd_targets(self, data):
        """Teacher logits, fixed for the run: a = head(generated feature); for bad-teaching also
        u = incompetent teacher on the matched real image. The incompetent teacher is rebuilt
        with data.fresh_model(), the same seeded init bad_teaching itself uses."""
        if self.kind == "bad-teaching":
            teacher = data.fresh_model().eval()
        else:
            teacher = data.original.eval()
        self.soft_a = teacher.fc(self.targets.features).float()
        if self.kind == "bad-teaching":
            src = self.targets.source
            self.soft_u = torch.cat([teacher(images_at(self.forget, src[s:s + 512])).float()
                                     for s in range(0, len(src), 512)])

    def __call__(self, model):
        pos = next(self.stream)
        dev = self.targets.features.device
        p = pos.to(dev)
        x = None
        if self.kind in KD_KINDS:
            x = images_at(self.forget, self.targets.source[pos])
        return self.use(self, model, x, self.targets.features[p], self.targets.labels[p], p)
