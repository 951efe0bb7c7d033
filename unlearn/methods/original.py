"""`original` (RUM's `--unlearn original`, also `raw`): no unlearning at all. The model is
evaluated as it is, which gives the starting point every method is compared with."""
from unlearn import register


@register("original", "raw", uses=(), loop=False,
          summary="no unlearning: the starting model as it is (a baseline)")
def no_unlearning(model, data, cfg):
    """No unlearning: the starting model as it is (a baseline row in every table)."""
    return model
