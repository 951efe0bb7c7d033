"""ToW-MIA and every MIA figure over seeds (mean ± 95% t-interval), grouped like analysis.py.
Writes into <save_dir>/analysis: tow_mia.csv, tow_mia.md, tow_mia_by_memorization.png,
tow_mia_by_es.png and RUM's results_mia.csv (one row per group, ToW-MIA and its interval first;
analysis.py writes results.csv). Filters as in analysis.py; a filtered call writes
tow_mia.<filters>.csv etc. instead."""
from engine.config import freeze
from engine.errors import cli_main
from evaluation.mia import ATTACKS
from evaluation.report import Table, build_parser, run
from unlearn import METHODS

TABLE = Table(score="tow_mia", results="results_mia",
              columns=("tow_mia", *(f"mia_{a}" for a in ATTACKS), *(f"mia_{a}_gap" for a in ATTACKS)),
              titles={"tow_mia": "ToW-MIA", **{f"mia_{a}": f"MIA {a}" for a in ATTACKS},
                      **{f"mia_{a}_gap": f"Δ{a}" for a in ATTACKS}})


@cli_main
def main(argv=None):
    run(freeze(build_parser(__doc__, TABLE, METHODS).parse_args(argv)), TABLE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
