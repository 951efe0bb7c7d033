"""Confusion matrix of a model on a set, and its PNG (the capstone meant to draw one and never
committed the code):

    counts = confusion_matrix(model, sets["test"])           # [C, C], rows = true class
    write_confusion_png(counts, out / "confusion.png", title="unlearned model, test set")
"""
import torch

from engine.io import write_png
from .accuracy import predict_logits

MAX_ANNOTATED = 20  # above this many classes the cell counts would not be readable


def confusion_matrix(model, tset, num_classes=None, batch_size=1024):
    """int64 counts [C, C] on the CPU: entry (t, p) = examples of true class t predicted as p.
    C defaults to the width of the model's output."""
    logits = predict_logits(model, tset, batch_size)
    C = logits.shape[1] if num_classes is None else int(num_classes)
    truth = tset.y.to(logits.device).long()
    cells = truth * C + logits.argmax(1)
    return torch.bincount(cells, minlength=C * C).reshape(C, C).cpu()


def write_confusion_png(counts, path, title="confusion matrix", class_names=None):
    """Heat-map of the counts (rows: true class, columns: predicted class), counts written in the
    cells when there are at most MAX_ANNOTATED classes."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    counts = torch.as_tensor(counts).cpu()
    C = counts.shape[0]
    names = list(class_names) if class_names is not None else [str(c) for c in range(C)]
    size = max(4.0, 0.45 * C + 2.0)
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    image = ax.imshow(counts.numpy(), cmap="Blues")
    if C <= MAX_ANNOTATED:
        light = counts.max().item() / 2
        for t in range(C):
            for p in range(C):
                value = int(counts[t, p])
                ax.text(p, t, str(value), ha="center", va="center", fontsize=7,
                        color="white" if value > light else "black")
        ax.set_xticks(range(C), names, fontsize=7)
        ax.set_yticks(range(C), names, fontsize=7)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"{title} ({int(counts.sum())} examples, {int(counts.trace())} correct)")
    fig.colorbar(image, ax=ax, label="examples")
    fig.tight_layout()
    return write_png(path, fig)
