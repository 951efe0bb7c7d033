"""Hardware use: FLOP/s of a training step of the default models against the peak matmul FLOP/s
this machine reaches in the same run. FLOPs per step come from torch's FlopCounterMode (forward
+ backward; matmuls and convolutions); the optimizer step is timed but not counted. Each step is
built and run the way the toolkit trains (`make_step`: prepare_model's channels_last, the
Trainer's SGD, the recipe's loss), so the figures are those of real training.

The matmul (torch.mm, MKL's sgemm) is not always the fastest dense kernel: on AMD CPUs MKL takes
its AVX2 path while oneDNN's convolutions use AVX-512, so a large 3x3 convolution is measured too
and the best of the two is reported as `best_kernel` (a ratio above 1 against the matmul peak
means the model's convolutions outrun sgemm, not that the count is wrong)."""
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

import models
from engine import recipe
from engine.device import prepare_model
from engine.train import Trainer
from memorization.stack import make_stack
from .common import timed

# (arch, input shape, batch, recipe): the digits default, the CIFAR default with a small batch,
# and the fast CIFAR network as the heldout estimator trains it (--recipe fast)
DEFAULT_MODELS = (("cnn", (1, 8, 8), 128, "default"), ("resnet18", (3, 32, 32), 32, "default"),
                  ("fastnet", (3, 32, 32), 64, "fast"))


def make_step(arch, in_shape, batch, recipe_name="default", stack=None, channels_last=True,
              optimizer=None, watch=True):
    """A closure running one CPU training step as the toolkit does: models.build_model (or, with
    `stack` = M, M of them as memorization.stack.make_stack's 'wide' stack, each model its own
    batch, the loss of memorization.heldout.train_group), engine.device.prepare_model,
    engine.train.Trainer with the recipe's optimiser and loss. For measuring changes:
    channels_last=False skips prepare_model; `optimizer` (SGD keyword arguments, e.g.
    {"foreach": True}) replaces the Trainer's SGD by one so built; watch=False drops the
    Trainer's on-device check for a non-finite loss."""
    c = in_shape[0]
    build = lambda: models.build_model(arch, 10, in_shape, (0.5,) * c, (0.25,) * c)
    torch.manual_seed(0)
    if stack:
        net = make_stack([build() for _ in range(stack)], torch.rand(4, *in_shape), "wide")
        x, y = torch.rand(stack, batch, *in_shape), torch.randint(0, 10, (stack, batch))
    else:
        net = build()
        x, y = torch.rand(batch, *in_shape), torch.randint(0, 10, (batch,))
    net = prepare_model(net, torch.device("cpu")) if channels_last else net
    flags = recipe.resolve(recipe.OptimFlags(epochs=10, lr=0.01, recipe=recipe_name))
    h = Trainer(net, **recipe.trainer_kwargs(flags, 100), progress=False)
    if optimizer is not None:
        g = h.optimizer.param_groups[0]
        h.optimizer = torch.optim.SGD(g["params"], lr=g["lr"], momentum=g["momentum"],
                                      weight_decay=g["weight_decay"], nesterov=g["nesterov"], **optimizer)
    if not watch:
        h._watch = lambda value: None
    net.train()

    def step():
        logits = net(x)
        if stack:  # the sum over models of each model's mean loss
            loss = recipe.loss(logits.flatten(0, 1), y.flatten(), flags, reduction="sum") / batch
        else:
            loss = recipe.loss(logits, y, flags)
        h.step(loss)

    return step


def step_flops(arch, in_shape, batch, recipe_name="default", stack=None):
    """FLOPs of one training step (forward + backward). A stack computes what its M models would
    apart, so it counts as M times one model: FlopCounterMode overcounts the weight gradient of a
    grouped convolution by its number of groups (it counts it as ungrouped)."""
    counter = FlopCounterMode(display=False)
    with counter:
        make_step(arch, in_shape, batch, recipe_name)()
    return counter.get_total_flops() * (stack or 1)


def peak_matmul(n=2048, repeats=5):
    """Best float32 FLOP/s of an n x n matmul (2 n^3 FLOPs), over `repeats` timings."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)  # warm-up
    best = min(timed(lambda: torch.mm(a, b))[0] for _ in range(repeats))
    return 2 * n ** 3 / best


def train_step_flops(arch, in_shape, batch, steps=5, recipe_name="default"):
    """(FLOPs of one training step, FLOP/s over `steps` steps)."""
    flops = step_flops(arch, in_shape, batch, recipe_name)
    step = make_step(arch, in_shape, batch, recipe_name)
    step()  # warm-up
    seconds = min(timed(step)[0] for _ in range(steps))
    return flops, flops / seconds


def best_matmul(sizes, repeats):
    return max(peak_matmul(n, repeats) for n in sizes)


def peak_conv(channels=256, size=32, batch=4, repeats=5):
    """FLOP/s of a dense 3x3 convolution (oneDNN), counted as direct convolution."""
    x, w = torch.randn(batch, channels, size, size), torch.randn(channels, channels, 3, 3)
    F.conv2d(x, w, padding=1)
    best = min(timed(lambda: F.conv2d(x, w, padding=1))[0] for _ in range(repeats))
    return 2 * batch * channels * channels * 9 * size * size / best


def run(matmul_n=(512, 1024, 2048), steps=5, repeats=10, model_list=DEFAULT_MODELS):
    """Peaks are the best of several measurements, taken before and after the models."""
    mm, conv = [best_matmul(matmul_n, repeats)], [peak_conv(repeats=max(2, repeats // 2))]
    rows = {}
    for arch, shape, batch, recipe_name in model_list:
        flops, rate = train_step_flops(arch, shape, batch, steps, recipe_name)
        fast = " --recipe fast" if recipe_name == "fast" else ""
        rows[f"{arch} {'x'.join(map(str, shape))} b{batch}{fast}"] = {"gflop_per_step": round(flops / 1e9, 4),
                                                                 "gflop_per_s": round(rate / 1e9, 2)}
    mm.append(best_matmul(matmul_n, repeats))
    conv.append(peak_conv(repeats=max(2, repeats // 2)))
    peak, best = max(mm), max(max(mm), max(conv))
    for r in rows.values():
        r["ratio"] = round(r["gflop_per_s"] * 1e9 / peak, 3)
        r["ratio_best_kernel"] = round(r["gflop_per_s"] * 1e9 / best, 3)
    return {"peak_matmul_gflop_per_s": round(peak / 1e9, 1), "matmul_sizes": list(matmul_n),
            "peak_conv3x3_gflop_per_s": round(max(conv) / 1e9, 1), "best_kernel_gflop_per_s": round(best / 1e9, 1),
            "threads": torch.get_num_threads(), "models": rows}
