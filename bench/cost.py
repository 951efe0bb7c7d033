"""Cost model of a heldout memorization estimate: python -m bench.cost [--write_docs].

For each architecture (resnet18, fastnet, cnn) on CIFAR-shaped input (3x32x32, 10 classes):
- FLOPs of one training step (forward + backward) counted by torch.utils.flop_counter.FlopCounterMode
  (it counts convolutions and matrix products; BN, activations and the optimizer update are not
  counted, a few percent at most), divided by the batch size -> training FLOPs per image;
- measured CPU throughput: FLOP/s achieved by a short timed training step on this machine;
- the full estimate: models x epochs x subset size images, i.e. FLOPs = per-image FLOPs x models x
  epochs x subset size (the eval passes, 2 x forward over D per model, are left out: < 5%);
- projected hours on this machine (measured FLOP/s) and on an A100 (assumed peak and utilisation,
  printed with the table).

Prints the table for RUM's setting (400 x ResNet-18 x 30 epochs x 35k images) against ours
(400 x fastnet x 10 epochs x 35k); with --write_docs it also writes it to docs/performance.md under
`## Cost model` (replacing only that section).
"""
import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

import models

DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
SHAPE, CLASSES = (3, 32, 32), 10
A100_PEAK = 312e12  # FLOP/s, A100 bf16 dense tensor-core peak (NVIDIA data sheet)
UTILISATION = {"resnet18": 0.50, "fastnet": 0.40, "cnn": 0.30}  # assumed fractions of the peak
SETTINGS = [  # (label, arch, models, epochs, subset images)
    ("RUM", "resnet18", 400, 30, 35_000),
    ("ours", "fastnet", 400, 10, 35_000),
    ("(small cnn)", "cnn", 400, 10, 35_000),
]


def build(arch):
    return models.build_model(arch, CLASSES, SHAPE, [0.5] * 3, [0.25] * 3)


def train_step(model, opt, x, y):
    opt.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    opt.step()


def step_flops(arch, batch):
    model = build(arch).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.rand(batch, *SHAPE), torch.randint(0, CLASSES, (batch,))
    with FlopCounterMode(display=False) as counter:
        train_step(model, opt, x, y)
    return counter.get_total_flops()


def measured_flops_per_s(arch, batch, steps):
    model = build(arch).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    x, y = torch.rand(batch, *SHAPE), torch.randint(0, CLASSES, (batch,))
    train_step(model, opt, x, y)  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        train_step(model, opt, x, y)
    seconds = (time.perf_counter() - start) / steps
    return step_flops(arch, batch) / seconds


def table(batch=32, steps=3):
    per_image, cpu_rate = {}, {}
    for arch in dict.fromkeys(a for _, a, *_ in SETTINGS):
        per_image[arch] = step_flops(arch, batch) / batch
        cpu_rate[arch] = measured_flops_per_s(arch, batch, steps)
    rows = []
    for label, arch, n_models, epochs, subset in SETTINGS:
        total = per_image[arch] * n_models * epochs * subset
        gpu_rate = A100_PEAK * UTILISATION[arch]
        rows.append({"setting": label, "arch": arch, "models": n_models, "epochs": epochs, "subset": subset,
                     "gflop_per_image": per_image[arch] / 1e9, "total_pflop": total / 1e15,
                     "cpu_gflops": cpu_rate[arch] / 1e9, "cpu_hours": total / cpu_rate[arch] / 3600,
                     "a100_util": UTILISATION[arch], "a100_hours": total / gpu_rate / 3600})
    return rows


def render(rows, batch, steps):
    head = ("| setting | arch | models x epochs x images | train GFLOP/image | total PFLOP | "
            "CPU GFLOP/s (measured) | CPU hours | A100 util. (assumed) | A100 GPU-hours |")
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        lines.append(f"| {r['setting']} | {r['arch']} | {r['models']} x {r['epochs']} x {r['subset']:,} | "
                     f"{r['gflop_per_image']:.3f} | {r['total_pflop']:.1f} | {r['cpu_gflops']:.1f} | "
                     f"{r['cpu_hours']:,.0f} | {100 * r['a100_util']:.0f}% | {r['a100_hours']:.2f} |")
    rum, ours = rows[0], rows[1]
    notes = [
        f"Assumptions: A100 peak {A100_PEAK / 1e12:.0f} TFLOP/s (bf16 dense tensor cores); utilisation "
        + ", ".join(f"{a} {100 * u:.0f}%" for a, u in UTILISATION.items())
        + " of that peak (assumed, not measured). CPU figures measured on this machine "
        f"({torch.get_num_threads()} threads, batch {batch}, mean of {steps} timed steps after one warm-up). "
        "FLOPs: torch.utils.flop_counter.FlopCounterMode over one forward+backward training step "
        "(convolutions and matmuls only), per image; total = per-image x models x epochs x images "
        "(evaluation passes not included).",
        f"Ours vs RUM: {rum['total_pflop'] / ours['total_pflop']:.1f}x fewer FLOPs; projected A100 cost "
        f"{ours['a100_hours']:.2f} GPU-hours vs {rum['a100_hours']:.2f} "
        f"({'under' if ours['a100_hours'] < 1 else 'NOT under'} one GPU-hour).",
    ]
    return "\n".join(lines), notes


def write_section(path, title, body):
    """Create `path` or replace only the `title` section (up to the next `## ` heading)."""
    text = path.read_text() if path.is_file() else "# Performance\n"
    lines = text.splitlines()
    start = next((i for i, l in enumerate(lines) if l.strip() == title), None)
    if start is None:
        out = text.rstrip("\n") + f"\n\n{title}\n\n{body.strip()}\n"
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        out = "\n".join(lines[:start] + [title, "", body.strip(), ""] + lines[end:]).rstrip("\n") + "\n"
    path.write_text(out)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.cost", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch_size", type=int, default=32, help="batch of the counted and timed steps")
    p.add_argument("--steps", type=int, default=3, help="timed steps per architecture")
    p.add_argument("--write_docs", action="store_true",
                   help=f"also update the repository's {DOC.relative_to(DOC.parent.parent)} (else only print)")
    a = p.parse_args(argv)
    rows = table(a.batch_size, a.steps)
    md, notes = render(rows, a.batch_size, a.steps)
    print(md)
    for n in notes:
        print("\n" + n)
    if a.write_docs:
        body = ("Produced by `python -m bench.cost` (heldout memorization estimate, CIFAR-10-shaped "
                "input, subsets of 70% of 50k training images).\n\n" + md + "\n\n" + "\n\n".join(notes))
        write_section(DOC, "## Cost model", body)
        print(f"\nwritten to {DOC} (## Cost model)")
    return rows


if __name__ == "__main__":
    main()
