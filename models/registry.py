"""Name -> model factory table. A factory takes (num_classes, in_shape) and returns a Classifier."""
from engine.registry import Registry
from .base import Normalize

MODELS = Registry("--arch")
register = MODELS.register  # @register("name") adds a factory under the value of --arch


def check_arch(arch):
    """Return `arch` if it is registered, otherwise a UserError listing the choices."""
    return MODELS.canonical(arch)


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
