"""Hardware use: FLOP/s of a training step of the default models against the peak matmul FLOP/s
this machine reaches in the same run. FLOPs per step come from torch's FlopCounterMode (forward
+ backward; matmuls and convolutions); the optimizer step is timed but not counted.

The matmul (torch.mm, MKL's sgemm) is not always the fastest dense kernel: on AMD CPUs MKL takes
its AVX2 path while oneDNN's convolutions use AVX-512, so a large 3x3 convolution is measured too
and the best of the two is reported as `best_kernel` (a ratio above 1 against the matmul peak
means the model's convolutions outrun sgemm, not that the count is wrong)."""
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

import models
from .common import timed

# (arch, input shape, batch): the digits default and the CIFAR default with a small batch
DEFAULT_MODELS = (("cnn", (1, 8, 8), 128), ("resnet18", (3, 32, 32), 32))


def peak_matmul(n=2048, repeats=5):
    """Best float32 FLOP/s of an n x n matmul (2 n^3 FLOPs), over `repeats` timings."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)  # warm-up
    best = min(timed(lambda: torch.mm(a, b))[0] for _ in range(repeats))
    return 2 * n ** 3 / best


def train_step_flops(arch, in_shape, batch, steps=5):
    """(FLOPs of one training step, FLOP/s over `steps` steps)."""
    torch.manual_seed(0)
    channels = in_shape[0]
    model = models.build_model(arch, 10, in_shape, (0.5,) * channels, (0.25,) * channels).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.rand(batch, *in_shape), torch.randint(0, 10, (batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    counter = FlopCounterMode(display=False)
    with counter:
        step()
    flops = counter.get_total_flops()
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
    for arch, shape, batch in model_list:
        flops, rate = train_step_flops(arch, shape, batch, steps)
        rows[f"{arch} {'x'.join(map(str, shape))} b{batch}"] = {"gflop_per_step": round(flops / 1e9, 4),
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
