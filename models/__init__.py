"""Image classifiers selectable by --arch. Every model normalises its own input, and exposes
`features(x) -> [B, feature_dim]`, the linear head `fc`, and `forward(x) = fc(features(x))`;
`save_model` / `load_model` are the one checkpoint format.

Layer: models, beside `datasets`, right above `engine`; it imports `engine` only."""

from engine.registry import import_all
from .base import Classifier, Normalize
from .registry import MODELS, build_model, check_arch, register
from .checkpoint import build_args, load_model, model_sha256, save_model
from .fastnet import whiten_init

__all__ = ["MODELS", "Classifier", "Normalize", "build_args", "build_model", "check_arch", "load_model",
           "model_sha256", "register", "save_model", "whiten_init"]

import_all(__name__, __path__)  # every module here registers its architecture(s)
