"""Name -> model factory table. A factory takes (num_classes, in_shape) and returns a Classifier."""
from engine.errors import UserError
from .base import Normalize

MODELS = {}


def register(name):
    """Decorator adding a factory to MODELS under `name` (the value of --arch)."""
    def add(factory):
        if name in MODELS:
            raise ValueError(f"model {name!r} registered twice")
        MODELS[name] = factory
        return factory
    return add


def check_arch(arch):
    """Return `arch` if it is registered, otherwise a UserError listing the choices."""
    if arch not in MODELS:
        raise UserError(f"unknown --arch {arch!r}; choose one of {', '.join(sorted(MODELS))}")
    return arch


def build_model(arch, num_classes, in_shape, mean, std):
    """A freshly initialised model whose first op normalises [0, 1] inputs with mean/std.

    in_shape is (C, H, W); lists are accepted because the build arguments come back from JSON.
    """
    factory = MODELS[check_arch(arch)]
    in_shape = tuple(int(s) for s in in_shape)
    model = factory(int(num_classes), in_shape)
    normalize = Normalize(mean, std)
    if normalize.channels != in_shape[0]:
        raise ValueError(f"mean/std have {normalize.channels} channels but in_shape is {in_shape}")
    model.normalize = normalize  # replaces the placeholder in place, keeping it first
    return model
