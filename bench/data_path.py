"""Data path: our in-memory TensorSet with batched augmentation against the conventional
torchvision pipeline (a Dataset of PIL images + RandomCrop(32, padding=4), RandomHorizontalFlip,
ToTensor + DataLoader), on the same CIFAR-shaped uint8 images held in memory. Both yield shuffled,
augmented float batches in [0, 1]; images per second of one epoch, side by side. Ours runs on
one thread; the loader with 0 workers on one core, with 2 workers on two processes."""
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from datasets.base import TensorSet
from .common import side_by_side


class PILImages(Dataset):
    """The torchvision CIFAR10 idiom: HWC uint8 rows -> PIL image -> transform, one at a time."""

    def __init__(self, images_hwc, labels, transform):
        self.images, self.labels, self.transform = images_hwc, labels, transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def conventional_loader(images_hwc, labels, batch_size, workers, seed):
    augment = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
                                  transforms.ToTensor()])
    return DataLoader(PILImages(images_hwc, labels, augment), batch_size=batch_size, shuffle=True,
                      num_workers=workers, generator=torch.Generator().manual_seed(seed),
                      persistent_workers=False)


def one_epoch(batches):
    n = 0
    for x, _ in batches():
        n += len(x)
    return n


def run(n_images=10000, batch_size=128, repeats=3, workers=(0, 2), seed=0):
    rng = np.random.default_rng(seed)
    images_hwc = rng.integers(0, 256, (n_images, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, n_images)
    # ours holds the same images as one uint8 [N, C, H, W] tensor (what the loaders produce)
    ours = TensorSet(torch.from_numpy(images_hwc).permute(0, 3, 1, 2).contiguous(), torch.as_tensor(labels),
                     torch.arange(n_images), {"pad": 4, "flip": True})
    gen = torch.Generator().manual_seed(seed)

    def ours_epoch():  # on one core, like the 0-worker loader (the training shares the process)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return one_epoch(lambda: ours.batches(batch_size, shuffle=True, augment=True, generator=gen))
        finally:
            torch.set_num_threads(threads)

    candidates = {"ours": ours_epoch}
    for w in workers:
        loader = conventional_loader(images_hwc, labels, batch_size, w, seed)
        candidates[f"torchvision_{w}w"] = (lambda ld: lambda: one_epoch(lambda: iter(ld)))(loader)
    seconds = side_by_side(candidates, repeats)
    rate = {k: n_images / s for k, s in seconds.items()}
    best_conv = max((k for k in rate if k != "ours"), key=rate.get)
    return {"images": n_images, "batch_size": batch_size, "repeats": repeats,
            "images_per_s": {k: round(v, 1) for k, v in rate.items()},
            "ratio_vs": {k: round(rate["ours"] / v, 2) for k, v in rate.items() if k != "ours"},
            "ratio": round(rate["ours"] / rate[best_conv], 2), "fastest_conventional": best_conv,
            "target": 5.0}
