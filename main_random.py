"""The random-label family (RL / RL_og, SalUn) with main_forget.py's interface.

`--path` is RUM's name for the SalUn mask (same as --mask_path): a mask file, the folder
`generate_mask.py --save` wrote (the mask of --salun_ratio, default 0.5), or RUM's prefix
form <folder>/hard_<ratio>."""
import main_forget
import unlearn
from engine.errors import UserError, cli_main
from workflows.config import unlearn_config

RANDOM_LABEL_METHODS = ("RL", "SalUn")


@cli_main
def main(argv=None):
    p = main_forget.build_parser()
    p.add_argument("--path", dest="mask_path",
                   help="SalUn mask: a file, a generate_mask.py --save folder, or <folder>/hard_<ratio> (RUM)")
    p.set_defaults(unlearn="RL")
    args = p.parse_args(argv)
    if unlearn.canonical(args.unlearn) not in RANDOM_LABEL_METHODS:
        raise UserError(f"main_random.py runs RL, RL_og and SalUn only; use main_forget.py for --unlearn {args.unlearn}")
    return main_forget.run(unlearn_config(args))


if __name__ == "__main__":
    raise SystemExit(main())
