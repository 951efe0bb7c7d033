"""One unlearning run: forget set -> method -> evaluation against the retrain reference.

Writes <save_dir>/forget_sets/<name>.json, the cached reference under <save_dir>/retrain/, and
<save_dir>/unlearn/<method>/<forget_set>/s<seed>/metrics.json."""
import sys

from engine import cli
from workflows import forget as pipeline
from engine.errors import cli_main
from unlearn.addons import add_addon_args
from unlearn.options import apply_defaults


def build_parser():
    p = pipeline.unlearning_parser(__doc__)
    add_addon_args(p)  # capstone add-ons: --ssl, --augment_forget, --tsne (unlearn/addons.py)
    return p


def run(args):
    args = apply_defaults(cli.finish(args))
    metrics, path = pipeline.run_unlearning(args)
    if metrics is None:
        print(f"skipped: {path} exists")
        return 0
    print(pipeline.summary_line(metrics))
    print(f"-> {path}")
    if metrics.get("diverged"):
        print(f"diverged: {metrics['diverged']}; recorded in {path}", file=sys.stderr)
        return 1
    return 0


@cli_main
def main(argv=None):
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
