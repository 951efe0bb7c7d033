"""The capstone's add-ons around any unlearning method, as the unlearning workflow uses them:

    extras = addons.prepare(cfg, ctx, method, forget_set)   # validate, load checkpoints; writes nothing
    data = extras.apply(data, cfg)                          # augment the METHOD's forget set, set
                                                            # data.regularizer (SSL / OpenGAN terms)
    metrics.update(extras.record())                         # what was used

`cfg` is the run's frozen config (its AddonFlags, its `method` MethodConfig); `method` is the
registered `unlearn.Method`, which says what it supports. Evaluation always uses the real forget
set: only `data.forget` handed to the method grows.
"""
import math
from dataclasses import dataclass, replace
from pathlib import Path

from engine.errors import UserError
from . import augment
from .harness import concat

SSL_MODES = ("none", "simple", "contrastive")


@dataclass(frozen=True)
class AddonFlags:
    """The capstone's add-ons around a method: a self-supervised term and forget-set augmentation."""
    ssl: str = "none"
    ssl_weight: float = 0.5
    ssl_temperature: float = 1.0
    simclr_path: str | None = None
    augment_forget: str = "none"
    augment_count: int | None = None
    generator_path: str | None = None
    arpl_labels: str = "nearest"


def _check_flags(cfg, method):
    """The add-on flags, checked against what the method says it supports."""
    ssl, kind = cfg.ssl, cfg.augment_forget
    if ssl not in SSL_MODES:
        raise UserError(f"unknown --ssl {ssl!r}; choose one of {', '.join(SSL_MODES)}")
    if kind not in augment.KINDS:
        raise UserError(f"unknown --augment_forget {kind!r}; choose one of {', '.join(augment.KINDS)}")
    if (ssl != "none" or kind != "none") and method.scratch:
        raise UserError(f"--unlearn {method.name} trains a new model without the forget set; add-ons "
                        "(--ssl, --augment_forget) would show it forget examples: drop them")
    if ssl != "none" and not method.loop:
        raise UserError(f"--ssl {ssl} needs a training loop, and --unlearn {method.name} has none: "
                        "drop --ssl or choose another method")
    if ssl != "none":
        if not math.isfinite(cfg.ssl_weight):
            raise UserError(f"--ssl_weight must be a finite number, got {cfg.ssl_weight}")
        if not (math.isfinite(cfg.ssl_temperature) and cfg.ssl_temperature > 0):
            raise UserError(f"--ssl_temperature must be a finite number > 0, got {cfg.ssl_temperature}")
    count = cfg.augment_count
    if count is not None and count <= 0:
        raise UserError(f"--augment_count must be a positive number of samples, got {count}")
    if count is not None and kind == "none":
        raise UserError("--augment_count needs --augment_forget simple|arpl|opengan")
    if kind == "opengan":
        why = method.why_not_forget_objective() or (None if method.opengan else "has no forget objective to feed")
        if why:
            from . import METHODS
            able = [m.name for m in METHODS.values() if m.opengan and not m.why_not_forget_objective()]
            raise UserError(f"--augment_forget opengan cannot be used with --unlearn {method.name}: it {why}; "
                            f"use it with {', '.join(able)}")
    return ssl, kind


class Addons:
    def __init__(self, cfg, ctx, method, forget_set):
        self.ssl, self.kind = _check_flags(cfg, method)
        self.method, self.ctx, self.forget_set = method, ctx, forget_set
        self.simclr = self.generator = self.regularizer = self.data = None
        self.simclr_sha256 = self.generator_meta = None
        self.count = None
        self.ssl_weight = cfg.ssl_weight
        if self.ssl != "none":
            self.simclr = self._load_simclr(cfg)
        if self.kind in augment.GENERATOR_KINDS:
            from .augment.gan import generator_dir, load_generator, train_hint
            folder = Path(cfg.generator_path) if cfg.generator_path else \
                generator_dir(cfg.save_dir, self.kind, forget_set.name)
            self.generator, self.generator_meta = load_generator(
                folder, self.kind, ctx.data, forget_set, train_hint(self.kind, cfg))
            if self.generator_meta.get("model_sha256") not in (None, ctx.model_sha256):
                raise UserError(f"{self.kind} generator {folder} was trained from another model than the one "
                                f"being unlearned (was the original trained again?); {train_hint(self.kind, cfg)}")
            self.generator_folder = folder
            self._check_generator_fits()

    @property
    def active(self):
        return self.ssl != "none" or self.kind != "none"

    def inputs(self):
        """Checksums of the models the add-ons loaded (part of the run's identity)."""
        return {"simclr": self.simclr_sha256, "generator": self.generator_meta.get("sha256")
                if self.generator_meta else None}

    def _load_simclr(self, cfg):
        from .ssl.simclr import load_simclr
        path = Path(cfg.simclr_path) if cfg.simclr_path else Path(cfg.save_dir) / "simclr"
        encoder, head, meta = load_simclr(path, self.ctx.data, self.ctx.device)
        dim = getattr(self.ctx.model, "feature_dim", None)
        if head.sizes["in_dim"] != dim:
            raise UserError(f"the SimCLR head in {path} takes {head.sizes['in_dim']}-d features "
                            f"({meta['build']['arch']}), but the model being unlearned gives {dim}-d "
                            f"({self.ctx.build['arch']}); pre-train with python simclr.py --arch "
                            f"{self.ctx.build['arch']}")
        self.simclr_sha256 = (meta["sha256"], meta["simclr"]["head_sha256"])
        return encoder, head

    def _check_generator_fits(self):
        if self.kind == "opengan" and self.generator.dim != self.ctx.model.feature_dim:
            raise UserError(f"OpenGAN generator {self.generator_folder} makes {self.generator.dim}-d "
                            f"features, but the model being unlearned has {self.ctx.model.feature_dim}-d; "
                            "train it again from this model")

    # ---- into the method --------------------------------------------------------------------

    def augmented_forget(self, data, cfg):
        """The extra images (simple / arpl) for the method's forget set, or None."""
        forget = data.forget
        n = self.count
        if self.kind == "simple":
            from .augment.simple import simple_augment
            return simple_augment(forget, n, cfg.seed, flip=bool(forget.augment.get("flip")))
        if self.kind == "arpl":
            from .augment.arpl import arpl_samples
            return arpl_samples(self.generator, data.original, forget, n, cfg.seed,
                                labels=cfg.arpl_labels, num_classes=data.num_classes)
        return None

    def apply(self, data, cfg):
        """The data for the method: its forget set grown by the augmentation, and the add-on
        regularizer (SSL / OpenGAN terms) in `data.regularizer`. The config is never changed."""
        self.data = data
        if not self.active:
            return data
        self.count = cfg.augment_count or len(data.forget)
        extra = self.augmented_forget(data, cfg)
        if extra is not None:
            data = replace(data, forget=concat(data.forget, extra))
        terms = {}
        if self.ssl != "none":
            terms[f"ssl_{self.ssl}"] = self._ssl_term(data, cfg)
        if self.kind == "opengan":
            from .augment.opengan import OpenGANTerm, opengan_targets
            targets = opengan_targets(self.generator, data.original, data.forget, self.count, cfg.seed)
            terms["opengan"] = OpenGANTerm(self.method, targets, data, cfg.method)
        if terms:
            from .ssl.regularizer import Regularizer
            self.regularizer = Regularizer(terms)
            data = replace(data, regularizer=self.regularizer)
        self.data = data
        return data

    def _ssl_term(self, data, cfg):
        from .ssl.regularizer import SSLTerm, simclr_outputs
        encoder, head = self.simclr
        targets = None
        if self.ssl == "simple":
            targets = (simclr_outputs(encoder, head, data.forget), simclr_outputs(encoder, head, data.retain))
        return SSLTerm(self.ssl, cfg.ssl_weight, head, data.forget, data.retain, cfg.batch_size,
                       cfg.seed, targets=targets, temperature=cfg.ssl_temperature,
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

    def record(self):
        """{"addons": what was used} for metrics.json, or {} without add-ons."""
        summary = self.summary()
        return {"addons": summary} if summary else {}


def prepare(cfg, ctx, method, forget_set):
    return Addons(cfg, ctx, method, forget_set)
