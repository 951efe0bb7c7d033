"""SimCLR pre-training of an encoder (any --arch) with a 128-d projection head, NT-Xent over two
batched augmented views. Writes <save_dir>/simclr/{model.pt, model.json, head.pt}, which
main_forget.py --ssl simple|contrastive reads."""
from engine import cli
from engine.errors import cli_main
from unlearn.ssl.simclr import build_parser, train_simclr


@cli_main
def main(argv=None):
    args = cli.finish(build_parser(__doc__).parse_args(argv))
    summary, out = train_simclr(args)
    loss = summary["loss_history"]
    print(f"SimCLR ({summary['arch']}, {args.dataset}): NT-Xent {loss[0]:.3f} -> {loss[-1]:.3f} over "
          f"{len(loss)} epochs, kNN test accuracy {summary['knn_test_accuracy']:.2f}% "
          f"in {summary['wall_time_s']:.1f}s -> {out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
