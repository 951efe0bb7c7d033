"""ToW tables over seeds (mean ± 95% t-interval): accuracies, gaps to the retrain reference, ToW,
RTE, grouped by method variant × forget-set kind × group. Writes into <save_dir>/analysis:
tow.csv, tow.md, tow_by_memorization.png, tow_by_es.png and RUM's results.csv (one row per group,
ToW and its interval first; analysis_mia.py writes results_mia.csv, so neither overwrites the
other). RUM's selection flags (--unlearn --mem --mem_proxy --num_indexes_to_replace ...) keep the
matching runs, and a filtered call writes tow.<filters>.csv etc. instead."""
from engine.config import freeze
from engine.errors import cli_main
from evaluation.report import Table, build_parser, run
from unlearn import METHODS

TABLE = Table(score="tow", results="results",
              columns=("forget", "retain", "val", "test", "forget_gap", "retain_gap", "test_gap", "tow",
                       "mia_confidence", "rte"),
              titles={"forget_gap": "Δforget", "retain_gap": "Δretain", "test_gap": "Δtest", "tow": "ToW",
                      "mia_confidence": "MIA", "rte": "RTE"})


@cli_main
def main(argv=None):
    run(freeze(build_parser(__doc__, TABLE, METHODS).parse_args(argv)), TABLE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
