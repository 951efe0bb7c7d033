"""The capstone's add-ons around any unlearning method, as the pipeline uses them:

    extras = addons.prepare(args, ctx, method, forget_set)   # validate, load checkpoints; writes nothing
    data, cfg = extras.apply(data, args)                      # augment the METHOD's forget set, build
                                                              # cfg.regularizer (SSL / OpenGAN terms)
    metrics.update(extras.finish(args, result, model, sets, out))   # geo_metric, t-SNE, summary

Evaluation always uses the real forget set: only `data.forget` handed to the method grows.
"""
import math
from argparse import Namespace
from dataclasses import replace
from pathlib import Path

from engine.errors import UserError
from . import augment
from .harness import concat

SSL_MODES = ("none", "simple", "contrastive")
NO_TRAINING_LOOP = ("wfisher",)


def add_addon_args(p):
    g = p.add_argument_group("capstone add-ons (self-supervision, forget-set augmentation, extras)")
    g.add_argument("--ssl", default="none", choices=SSL_MODES,
                   help="self-supervised term added to the method's loss: simple (feature similarity "
                        "to a SimCLR model) or contrastive (NT-Xent, forget positives sign-flipped)")
    g.add_argument("--ssl_weight", type=float, default=0.5, help="lambda of the SSL term")
    g.add_argument("--ssl_temperature", type=float, default=1.0,
                   help="NT-Xent temperature of --ssl contrastive (the capstone's 1)")
    g.add_argument("--simclr_path", default=None,
                   help="SimCLR model folder from simclr.py (default <save_dir>/simclr)")
    g.add_argument("--augment_forget", default="none", choices=augment.KINDS,
                   help="extra forget examples for the method (never for evaluation)")
    g.add_argument("--augment_count", type=int, default=None,
                   help="number of augmented samples (default: the forget-set size)")
    g.add_argument("--generator_path", default=None,
                   help="arpl/opengan generator folder (default <save_dir>/augment/<kind>/<forget set>)")
    g.add_argument("--arpl_labels", default="nearest", choices=("nearest", "predicted", "random"),
                   help="labels of ARPL images: nearest forget example's, the model's prediction, "
                        "or uniform (the capstone)")
    g.add_argument("--tsne", action="store_true",
                   help="write tsne.png (forget/retain/test features before and after) next to metrics.json")
    return g


def _check_flags(args, method):
    ssl, kind = getattr(args, "ssl", "none"), getattr(args, "augment_forget", "none")
    if ssl not in SSL_MODES:
        raise UserError(f"unknown --ssl {ssl!r}; choose one of {', '.join(SSL_MODES)}")
    if kind not in augment.KINDS:
        raise UserError(f"unknown --augment_forget {kind!r}; choose one of {', '.join(augment.KINDS)}")
    if ssl != "none" and method in NO_TRAINING_LOOP:
        raise UserError(f"--ssl {ssl} needs a training loop, and --unlearn {method} has none "
                        "(one Newton step): drop --ssl or choose another method")
    if ssl != "none":
        for flag in ("ssl_weight", "ssl_temperature"):
            value = getattr(args, flag)
            if not math.isfinite(value) or (flag == "ssl_temperature" and value <= 0):
                raise UserError(f"--{flag} must be a finite number{' > 0' if flag == 'ssl_temperature' else ''}, "
                                f"got {value}")
    count = getattr(args, "augment_count", None)
    if count is not None and count <= 0:
        raise UserError(f"--augment_count must be a positive number of samples, got {count}")
    if count is not None and kind == "none":
        raise UserError("--augment_count needs --augment_forget simple|arpl|opengan")
    if kind == "opengan":
        from .augment.opengan import CANNOT_USE, METHOD_USE
        if method not in METHOD_USE:
            why = CANNOT_USE.get(method, "has no forget objective to feed")
            raise UserError(f"--augment_forget opengan cannot be used with --unlearn {method}: it {why}; "
                            f"use it with {', '.join(METHOD_USE)}")
    return ssl, kind


class Addons:
    def __init__(self, args, ctx, method, forget_set):
        self.ssl, self.kind = _check_flags(args, method)
        self.method, self.ctx, self.forget_set = method, ctx, forget_set
        self.simclr = self.generator = self.regularizer = self.data = None
        self.count = None
        self.ssl_weight = getattr(args, "ssl_weight", None)
        if self.ssl != "none":
            self.simclr = self._load_simclr(args)
        if self.kind in augment.GENERATOR_KINDS:
            from .augment.gan import generator_dir, load_generator, train_hint
            folder = Path(args.generator_path) if getattr(args, "generator_path", None) else \
                generator_dir(args.save_dir, self.kind, forget_set.name)
            self.generator, self.generator_meta = load_generator(
                folder, self.kind, ctx.data, forget_set, train_hint(self.kind, args))
            self.generator_folder = folder
            self._check_generator_fits()

    @property
    def active(self):
        return self.ssl != "none" or self.kind != "none"

    def _load_simclr(self, args):
        from .ssl.simclr import load_simclr
        path = Path(args.simclr_path) if getattr(args, "simclr_path", None) else Path(args.save_dir) / "simclr"
        encoder, head, meta = load_simclr(path, self.ctx.data, self.ctx.device)
        dim = getattr(self.ctx.model, "feature_dim", None)
        if head.sizes["in_dim"] != dim:
            raise UserError(f"the SimCLR head in {path} takes {head.sizes['in_dim']}-d features "
                            f"({meta['build']['arch']}), but the model being unlearned gives {dim}-d "
                            f"({self.ctx.build['arch']}); pre-train with python simclr.py --arch "
                            f"{self.ctx.build['arch']}")
        return encoder, head

    def _check_generator_fits(self):
        if self.kind == "opengan" and self.generator.dim != self.ctx.model.feature_dim:
            raise UserError(f"OpenGAN generator {self.generator_folder} makes {self.generator.dim}-d "
                            f"features, but the model being unlearned has {self.ctx.model.feature_dim}-d; "
                            "train it again from this model")

    # ---- into the method --------------------------------------------------------------------

    def augmented_forget(self, data, args):
        """The extra images (simple / arpl) for the method's forget set, or None."""
        forget = data.forget
        n = self.count
        if self.kind == "simple":
            from .augment.simple import simple_augment
            return simple_augment(forget, n, args.seed, flip=bool(forget.augment.get("flip")))
        if self.kind == "arpl":
            from .augment.arpl import arpl_samples
            return arpl_samples(self.generator, data.original, forget, n, args.seed,
                                labels=args.arpl_labels, num_classes=data.num_classes)
        return None

    def apply(self, data, args):
        """(data for the method, cfg for the method); args itself is never changed, so the
        retrain reference and metrics.json's config see no add-on objects."""
        cfg = Namespace(**vars(args))
        self.data = data
        if not self.active:
            return data, cfg
        self.count = args.augment_count or len(data.forget)
        extra = self.augmented_forget(data, args)
        if extra is not None:
            data = replace(data, forget=concat(data.forget, extra))
        terms = {}
        if self.ssl != "none":
            terms[f"ssl_{self.ssl}"] = self._ssl_term(data, args)
        if self.kind == "opengan":
            from .augment.opengan import OpenGANTerm, opengan_targets
            targets = opengan_targets(self.generator, data.original, data.forget, self.count, args.seed)
            terms["opengan"] = OpenGANTerm(self.method, targets, data, args, args.seed)
        if terms:
            from .ssl.regularizer import Regularizer
            self.regularizer = cfg.regularizer = Regularizer(terms)
        self.data = data
        return data, cfg

    def _ssl_term(self, data, args):
        from .ssl.regularizer import SSLTerm, simclr_outputs
        encoder, head = self.simclr
        targets = None
        if self.ssl == "simple":
            targets = (simclr_outputs(encoder, head, data.forget), simclr_outputs(encoder, head, data.retain))
        return SSLTerm(self.ssl, args.ssl_weight, head, data.forget, data.retain, args.batch_size,
                       args.seed, targets=targets, temperature=args.ssl_temperature,
                       flip=bool(data.forget.augment.get("flip")))

    # ---- into metrics.json ------------------------------------------------------------------

    def summary(self):
        if not self.active:
            return None
        out = {"ssl": self.ssl, "augment_forget": self.kind}
        if self.ssl != "none":
            out["ssl_weight"] = self.ssl_weight
        if self.kind != "none":
            out["augment_count"] = self.count
        if self.kind in augment.GENERATOR_KINDS:
            out["generator"] = str(self.generator_folder)
        if self.regularizer is not None:
            out["regularizer"] = self.regularizer.summary()
        return out

    def finish(self, args, result, model, sets, out):
        from evaluation.capstone import geo_metric_of_run, tsne_plot
        extra = geo_metric_of_run(args.save_dir, result)
        summary = self.summary()
        if summary:
            extra["addons"] = summary
        if getattr(args, "tsne", False) and not result.get("diverged") and self.data is not None:
            tsne_plot(self.data.original, model, sets, out / "tsne.png", seed=args.seed)
            extra["tsne"] = str(out / "tsne.png")
        return extra


def prepare(args, ctx, method, forget_set):
    return Addons(args, ctx, method, forget_set)
