"""Image classifiers selectable by --arch. Every model normalises its own input, and exposes
`features(x) -> [B, feature_dim]`, the linear head `fc`, and `forward(x) = fc(features(x))`."""
from .base import Classifier, Normalize
from .registry import MODELS, build_model, check_arch, register
from . import fastnet, resnet, small, vgg  # noqa: F401  (imported for their @register side effect)

__all__ = ["MODELS", "Classifier", "Normalize", "build_model", "check_arch", "register"]
