"""`original` (RUM's `--unlearn original`, also `raw`): no unlearning at all. The model is
evaluated as it is, which gives the starting point every method is compared with."""
from . import register


@register("original", "raw")
def no_unlearning(model, data, cfg):
    return model
