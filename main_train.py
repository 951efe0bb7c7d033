"""Train the original model; writes <save_dir>/original/{model.pt, model.json, config.json,
metrics.json, learning_events.npz}."""
from engine import cli
from engine.errors import cli_main
from workflows.train import train_original


def build_parser():
    p = cli.parser(__doc__)
    cli.add_data_args(p)
    cli.add_run_args(p)
    cli.add_optim_args(p)
    p.add_argument("--resume", action="store_true",
                   help="continue a killed run from <save_dir>/original/progress.pt (saved every epoch)")
    return p


@cli_main
def main(argv=None):
    args = cli.finish(build_parser().parse_args(argv))
    m = train_original(args)
    if m["diverged"]:
        print(f"diverged: {m['diverged']} (metrics written to {args.save_dir}/original/metrics.json)")
        return 1
    acc = m["accuracy"]
    print(f"original model ({m['arch']}, {args.dataset}): train {acc['train']:.2f}%  "
          f"val {acc['val']:.2f}%  test {acc['test']:.2f}%  in {m['wall_time_s']:.1f}s "
          f"-> {args.save_dir}/original/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
