"""One unlearning run: forget set -> method -> evaluation against the retrain reference.

Writes <save_dir>/forget_sets/<name>.json, the cached reference under <save_dir>/retrain/, and
<save_dir>/unlearn/<method>/<forget_set>/s<seed>/metrics.json."""
import sys

from engine.errors import cli_main
from workflows import forget, parsers
from workflows.config import unlearn_config


def build_parser():
    p = parsers.unlearning_parser(__doc__)
    parsers.add_addon_args(p)  # capstone add-ons: --ssl, --augment_forget
    parsers.add_figure_args(p)  # --tsne, --cka, --confusion
    return p


def run(cfg, figures=None):
    """Run and print the summary (plus `figures(metrics)`, e.g. mu_main.py's, when given)."""
    metrics, path = forget.run_unlearning(cfg)
    if metrics is None:
        print(f"skipped: {path} exists")
        return 0
    print(forget.summary_line(metrics))
    print(f"-> {path}")
    if metrics.get("diverged"):
        print(f"diverged: {metrics['diverged']}; recorded in {path}", file=sys.stderr)
        return 1
    if figures is not None:
        print(figures(metrics))
    return 0


@cli_main
def main(argv=None):
    return run(unlearn_config(build_parser().parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
