"""Train the original model; writes <save_dir>/original/{model.pt, model.json, config.json,
metrics.json, learning_events.npz}."""
from engine.cli import parser
from engine.errors import cli_main
from workflows import parsers
from workflows.config import train_config
from workflows.train import train_original


def build_parser():
    p = parser(__doc__)
    parsers.add_data_args(p)
    parsers.add_run_args(p)
    parsers.add_optim_args(p)
    p.add_argument("--resume", action="store_true",
                   help="continue a killed run from its last finished epoch (saved every epoch in "
                        "<save_dir>/.original.next/); the recipe must be the killed run's")
    return p


@cli_main
def main(argv=None):
    cfg = train_config(build_parser().parse_args(argv))
    m = train_original(cfg)
    if m["diverged"]:
        where = (f"the previous model in {m['kept']} is kept" if "kept" in m else
                 f"metrics written to {cfg.save_dir}/original/metrics.json")
        print(f"diverged: {m['diverged']} ({where})")
        return 1
    acc = m["accuracy"]
    print(f"original model ({m['arch']}, {cfg.dataset}): train {acc['train']:.2f}%  "
          f"val {acc['val']:.2f}%  test {acc['test']:.2f}%  in {m['wall_time_s']:.1f}s "
          f"-> {cfg.save_dir}/original/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
