"""ToW tables over seeds (mean ± 95% t-interval): accuracies, gaps to the retrain reference, ToW,
RTE, grouped by method × forget-set kind × group. Writes <save_dir>/analysis/tow.{csv,md} and
tow_by_memorization.png / tow_by_es.png."""
from engine.config import freeze
from engine.errors import cli_main
from evaluation.report import build_parser, run

COLUMNS = ["forget", "retain", "val", "test", "forget_gap", "retain_gap", "test_gap", "tow",
           "mia_confidence", "rte"]
TITLES = {"forget_gap": "Δforget", "retain_gap": "Δretain", "test_gap": "Δtest", "tow": "ToW",
          "mia_confidence": "MIA", "rte": "RTE"}
PLOTS = [("memorization", "tow", "ToW"), ("es", "tow", "ToW")]


@cli_main
def main(argv=None):
    run(freeze(build_parser(__doc__).parse_args(argv)), "tow", COLUMNS, TITLES, PLOTS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
