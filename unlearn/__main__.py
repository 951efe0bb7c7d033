"""python -m unlearn list: the unlearning methods, data sets, architectures and memorization
scores this installation knows, one line each (with RUM's and the capstone's other spellings)."""
import datasets
import models
import unlearn
from engine import cli
from engine.errors import cli_main
from memorization.proxies import DESCRIPTIONS


def first_sentence(text):
    """The first sentence of a docstring, on one line."""
    flat = " ".join((text or "").split())
    end = flat.find(". ")
    return flat if end < 0 else flat[:end + 1]


def listing():
    """[(kind, name with its aliases, one line)]."""
    aliases = {}
    for alias, name in unlearn.METHODS.aliases.items():
        aliases.setdefault(name, []).append(alias)
    rows = [("method", name + (f" ({', '.join(aliases[name])})" if name in aliases else ""), m.summary)
            for name, m in unlearn.METHODS.items()]
    rows += [("data set", name, first_sentence(loader.__doc__)) for name, loader in datasets.LOADERS.items()]
    rows += [("model", name, first_sentence(factory.__doc__)) for name, factory in models.MODELS.items()]
    rows += [("memorization", name, text) for name, text in DESCRIPTIONS.items()]
    return rows


def build_parser():
    p = cli.parser(__doc__)
    p.prog = "python -m unlearn"
    p.add_argument("command", choices=("list",))
    return p


@cli_main
def main(argv=None):
    build_parser().parse_args(argv)
    rows = listing()
    width = max(len(name) for _, name, _ in rows)
    for kind in ("method", "data set", "model", "memorization"):
        print(f"{kind}s:" if kind != "memorization" else "memorization scores (--mem_proxy):")
        for _, name, text in (r for r in rows if r[0] == kind):
            print(f"  {name:<{width}}  {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
