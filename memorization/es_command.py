"""The `es` command: the entanglement score of each embedding-distance group under the original
model -> <save_dir>/memorization/es_groups.json (definitions: docs/reference.md)."""
import time

from pathlib import Path

from engine.errors import UserError
from models import model_sha256
from engine.io import write_json
from .common import check_positive, load_data, load_original, out_dir, run_record
from .entanglement import group_entanglement


def group_size(args, n_train):
    """Examples per distance group; checks --n_groups and --num_indexes_to_replace against it."""
    check_positive(args.n_groups, "--n_groups", integer=True)
    if args.num_indexes_to_replace is not None:
        check_positive(args.num_indexes_to_replace, "--num_indexes_to_replace", integer=True)
    size = n_train // args.n_groups
    if size < 1:
        raise UserError(f"--n_groups {args.n_groups} is more than the {n_train} training examples")
    if args.num_indexes_to_replace and args.num_indexes_to_replace > size:
        raise UserError(f"--num_indexes_to_replace {args.num_indexes_to_replace} is larger than a group "
                        f"({size} examples)")
    return size


def es_groups(args):
    device, data = load_data(args)
    size = group_size(args, len(data.train))
    model, _ = load_original(args, data, device)
    start = time.perf_counter()
    rows = group_entanglement(model, data.train, args.n_groups, args.num_indexes_to_replace,
                              mu=args.mu)
    path = out_dir(args.save_dir) / "es_groups.json"
    record = run_record(args, data.split, device=str(device), mu=args.mu,
                        original_sha256=model_sha256(Path(args.save_dir) / "original"),
                        features="model.features, eval mode, no augmentation; exact means",
                        group_size=size, wall_time_s=time.perf_counter() - start)
    write_json(path, {**record, "groups": rows})
    return {"path": path, "groups": rows}
