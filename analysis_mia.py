"""ToW-MIA and every MIA figure over seeds (mean ± 95% t-interval), grouped like analysis.py.
Writes <save_dir>/analysis/tow_mia.{csv,md} and tow_mia_by_memorization.png / _by_es.png."""
from engine.config import freeze
from engine.errors import cli_main
from evaluation.mia import ATTACKS
from evaluation.report import build_parser, run

COLUMNS = ["tow_mia"] + [f"mia_{a}" for a in ATTACKS] + [f"mia_{a}_gap" for a in ATTACKS]
TITLES = {"tow_mia": "ToW-MIA", **{f"mia_{a}": f"MIA {a}" for a in ATTACKS},
          **{f"mia_{a}_gap": f"Δ{a}" for a in ATTACKS}}
PLOTS = [("memorization", "tow_mia", "ToW-MIA"), ("es", "tow_mia", "ToW-MIA")]


@cli_main
def main(argv=None):
    run(freeze(build_parser(__doc__).parse_args(argv)), "tow_mia", COLUMNS, TITLES, PLOTS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
