"""SalUn saliency masks for a list of sparsity thresholds.

A mask keeps the given fraction of weights with the LARGEST forget-loss gradient magnitude
(SalUn's definition; RUM's code kept the smallest, see docs/deviations.md; --legacy_bottom
reproduces it). Writes <save_dir>/masks/<forget_set>/mask_<q>.pt (a state_dict of 0/1 tensors,
loadable with weights_only=True) and masks.json; pass one to main_random.py --mask_path."""
import argparse
from pathlib import Path

from datasets import forget_sets as fsets
from engine.cli import parser, positive_int
from engine.errors import cli_main
from engine.io import ensure_writable_dir, save_state, write_json
from engine.record import run_record
from unlearn.methods.salun import forget_gradient_saliency, masks_from_saliency
from workflows import forget as pipeline
from workflows import parsers
from workflows.config import MaskConfig, forget_set_config


def thresholds(text):
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or any(not 0 < v <= 1 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r} must be comma-separated fractions in (0, 1]")
    return values


def build_parser():
    p = parser(__doc__)
    parsers.add_data_args(p)
    parsers.add_run_args(p)
    parsers.add_forget_set_args(p)
    p.add_argument("--start_model", default=None,
                   help="model whose saliency is measured (default <save_dir>/original; pass the "
                        "previous step's model in a RUM sequence)")
    p.add_argument("--thresholds", type=thresholds, default="0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0",
                   help="fractions of weights to keep")
    p.add_argument("--legacy_bottom", action="store_true",
                   help="RUM's inverted mask: keep the SMALLEST-gradient weights")
    p.add_argument("--save", "--mask_dir", dest="mask_dir", default=None,
                   help="mask folder (RUM's --save; default <save_dir>/masks/<forget_set>); "
                        "main_random.py --path takes this folder")
    p.add_argument("--unlearn_epochs", type=positive_int, default=1,
                   help="passes of saliency accumulation over the forget set (RUM: 1); the first is "
                        "unaugmented, each further one a fresh augmentation")
    return p


@cli_main
def main(argv=None):
    args = build_parser().parse_args(argv)
    cfg = forget_set_config(args, MaskConfig, thresholds=tuple(args.thresholds))
    ctx = pipeline.setup(cfg)
    forget_set = pipeline.build_forget_set(ctx)
    out = Path(cfg.mask_dir) if cfg.mask_dir else Path(cfg.save_dir) / "masks" / forget_set.name
    ensure_writable_dir(out, "--mask_dir")
    fsets.save_forget_set(cfg.save_dir, forget_set, ctx.data.split.sha)
    forget = ctx.data.train.select(forget_set.indices)
    saliency = forget_gradient_saliency(ctx.model, forget, cfg.batch_size, cfg.unlearn_epochs, cfg.seed)
    masks = masks_from_saliency(saliency, cfg.thresholds, legacy_bottom=cfg.legacy_bottom)
    files, sha = {}, {}
    for q, mask in masks.items():
        files[str(q)] = str(out / f"mask_{q}.pt")
        sha[f"mask_{q}.pt"] = save_state(out / f"mask_{q}.pt", {k: v.cpu() for k, v in mask.items()})
    # masks.json last (its presence marks complete masks): the forget set and each file's checksum
    write_json(out / "masks.json", {**run_record(cfg, ctx.data.split), "forget_set": forget_set.describe(),
                                    "legacy_bottom": cfg.legacy_bottom, "files": files, "sha256": sha,
                                    "model_sha256": ctx.model_sha256})
    print(f"{len(files)} masks for {forget_set.name} ({len(forget)} examples) -> {out}/mask_<q>.pt")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
