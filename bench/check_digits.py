"""Do the cheap proxies rank digits as the heldout estimate does? (a check, not a test: ~10 s
on one free CPU core, minutes on a busy machine)

    python -m bench.check_digits                    # tinymlp: original + estimate + proxies + report
    python -m bench.check_digits --arch cnn --num_models 64

Trains the original model (main_train.py) in --save_dir (a temporary folder by default), runs
`python -m memorization estimate`, the learning-event proxies and `report` with the same
architecture, and prints the Spearman correlation of each proxy with the heldout estimate.
Expected: clearly negative (high confidence = easy = low memorization). Measured with the
defaults below: confidence -0.48 (tinymlp); with --arch cnn about -0.36.
"""
import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import main_train
from memorization.__main__ import main as memorization_main


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="tinymlp")
    p.add_argument("--original_epochs", type=int, default=30)
    p.add_argument("--num_models", type=int, default=128)
    p.add_argument("--epochs", type=int, default=3, help="epochs of each heldout model")
    p.add_argument("--save_dir", default=None, help="default: a temporary folder")
    p.add_argument("--seed", type=int, default=2)
    return p.parse_args()


def run(save, a):
    start = time.perf_counter()
    flags = ["--dataset", "digits", "--save_dir", str(save), "--seed", str(a.seed)]
    assert main_train.main([*flags, "--arch", a.arch, "--epochs", str(a.original_epochs)]) == 0
    assert memorization_main(["estimate", *flags, "--num_models", str(a.num_models), "--epochs", str(a.epochs)]) == 0
    for kind in ("confidence", "max_conf", "entropy", "bi_acc"):
        assert memorization_main(["proxy", *flags, "--kind", kind]) == 0
    assert memorization_main(["report", *flags]) == 0
    held = np.load(Path(save) / "memorization" / "heldout.npz")
    report = json.loads((Path(save) / "memorization" / "report" / "report.json").read_text())
    print(f"\nheldout: {a.num_models} {a.arch} models x {a.epochs} epochs; "
          f"{100 * (held['score'] == 0).mean():.1f}% of scores exactly 0")
    for row in report["correlations"]:
        print(f"RESULT spearman({row['proxy']}, heldout) = {row['spearman']:+.3f}")
    print(f"total {time.perf_counter() - start:.1f}s")


def main():
    a = parse()
    if a.save_dir:
        run(a.save_dir, a)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            run(Path(tmp) / "digits", a)
        print("(the files above were in a temporary folder, now deleted; --save_dir DIR keeps them)")


if __name__ == "__main__":
    main()
