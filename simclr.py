"""SimCLR pre-training of an encoder (any --arch) with a 128-d projection head, NT-Xent over two
batched augmented views. Writes <save_dir>/simclr/{model.pt, model.json, head.pt}, which
main_forget.py --ssl simple|contrastive reads."""
from engine import cli
from engine.errors import cli_main
from unlearn.ssl.simclr import SimCLRConfig, train_simclr
from workflows import parsers
from engine.config import from_args
from workflows.config import save_dir_of


def build_parser():
    p = cli.parser(__doc__)
    parsers.add_data_args(p)
    parsers.add_run_args(p)
    p.set_defaults(batch_size=SimCLRConfig.batch_size)
    g = p.add_argument_group("SimCLR")
    g.add_argument("--epochs", type=cli.positive_int, default=SimCLRConfig.epochs)
    g.add_argument("--lr", type=cli.non_negative_float, default=SimCLRConfig.lr, help="Adam learning rate")
    g.add_argument("--weight_decay", type=cli.non_negative_float, default=SimCLRConfig.weight_decay)
    g.add_argument("--temperature", type=float, default=SimCLRConfig.temperature, help="NT-Xent temperature")
    g.add_argument("--out_dim", type=cli.positive_int, default=SimCLRConfig.out_dim, help="projection size")
    g.add_argument("--hidden", type=cli.positive_int, default=None,
                   help="projection head hidden width (default: the encoder's feature size)")
    return p


@cli_main
def main(argv=None):
    args = build_parser().parse_args(argv)
    cfg = from_args(SimCLRConfig, args, save_dir=save_dir_of(args))
    summary, out = train_simclr(cfg)
    loss = summary["loss_history"]
    print(f"SimCLR ({summary['arch']}, {cfg.dataset}): NT-Xent {loss[0]:.3f} -> {loss[-1]:.3f} over "
          f"{len(loss)} epochs, kNN test accuracy {summary['knn_test_accuracy']:.2f}% "
          f"in {summary['wall_time_s']:.1f}s -> {out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
