"""The RUM meta-algorithm (rum-spec §8.1) and its controls, as one sequential pipeline.

The forget set is refined into parts and the parts are unlearned in sequence, each step starting
from the previous step's model:

- `rum`     memorization-refined parts (low / mid / high), a method per part (`none` skips);
- `rumf`    memorization-refined parts, the same method (--unlearn) for every part (RUM^F);
- `shuffle` three random equal chunks in sequence, the same method (control);
- `vanilla` the whole forget set in one go with --unlearn (control).

Every variant is scored against the retrain reference of the WHOLE forget set.
"""
import copy
import time
from argparse import Namespace

import numpy as np

import unlearn
from datasets import forget_sets as fsets
from evaluation import accuracies
from unlearn.options import apply_defaults
from engine.errors import Diverged, UserError
from engine.io import ensure_writable_dir, write_json
from engine.record import run_record
from engine.seed import seed_everything
from engine.train import check_finite_weights
from .forget import (build_forget_set, compare, eval_sets, evaluate, load_mask, retrain_reference,
                     run_dir, score_path, setup, unlearn_data)

PARTS = ("low", "mid", "high")
VARIANTS = ("rum", "rumf", "shuffle", "vanilla")
RETAIN_RULES = ("paper", "complement")


def split_list(text, n, flag, cast=str):
    items = [t.strip() for t in str(text).split(",")]
    if len(items) == 1 and n > 1:
        items = items * n
    if len(items) != n:
        raise UserError(f"{flag} has {len(items)} entries but there are {n} parts ({','.join(PARTS)})")
    try:
        return [None if t in ("", "default") else cast(t) for t in items]
    except ValueError:
        raise UserError(f"{flag} {text!r}: every entry must be a number (or 'default')")


def refine_by_memorization(forget_idx, scores_by_index):
    """Sort the forget set by memorization and cut it into low / mid / high thirds
    (the low part takes the remainder, as in `mix`)."""
    order = np.argsort(np.array([scores_by_index[i] for i in forget_idx]), kind="stable")
    ranked = np.asarray(forget_idx)[order]
    third = len(ranked) // 3
    n_low = len(ranked) - 2 * third
    return {"low": ranked[:n_low], "mid": ranked[n_low:n_low + third], "high": ranked[n_low + third:]}


def shuffle_chunks(forget_idx, seed):
    perm = np.random.RandomState(seed).permutation(np.asarray(forget_idx))
    return dict(zip(PARTS, np.array_split(perm, 3)))


def parse_plan(args):
    """Check the RUM flags before any data is read: (order, {part: (method, overrides)})."""
    order = [p.strip() for p in args.order.split(",")]
    if sorted(order) != sorted(PARTS):
        raise UserError(f"--order {args.order!r} must name low, mid and high once each")
    methods = split_list(args.rum_methods, 3, "--rum_methods") if args.variant == "rum" else [args.unlearn] * 3
    for method in methods:
        if method != "none":
            unlearn.canonical(method)
    lrs = split_list(args.rum_lrs, 3, "--rum_lrs", float) if args.rum_lrs else [None] * 3
    epochs = split_list(args.rum_epochs, 3, "--rum_epochs", int) if args.rum_epochs else [None] * 3
    alphas = split_list(args.rum_alphas, 3, "--rum_alphas", float) if args.rum_alphas else [None] * 3
    per_part = {p: (m, {k: v for k, v in (("unlearn_lr", lr), ("unlearn_epochs", ep), ("alpha", al))
                        if v is not None})
                for p, m, lr, ep, al in zip(PARTS, methods, lrs, epochs, alphas)}
    return order, per_part


def plan_steps(args, forget_idx, train_idx):
    """[(part name, indices, method, overrides)] in execution order."""
    order, per_part = parse_plan(args)
    if args.variant == "vanilla":
        return [("all", np.asarray(forget_idx), args.unlearn, {})]
    if args.variant == "shuffle":
        parts = shuffle_chunks(forget_idx, args.seed)
    else:
        scores = fsets.load_scores(score_path(args), train_idx)
        parts = refine_by_memorization(forget_idx, dict(zip(train_idx.tolist(), scores)))
    steps = []
    for part in order:
        if len(parts[part]) == 0:
            raise UserError(f"the {part} part of the forget set is empty (forget set of "
                            f"{len(forget_idx)} examples); use at least 3 examples")
        steps.append((part, parts[part], *per_part[part]))
    return steps


def step_config(args, method, overrides):
    """--unlearn flags for one step: the command line's, then the step's overrides, then the
    method's defaults for whatever is still unset."""
    base = {k: v for k, v in vars(args).items()}
    if method != args.unlearn:  # another method: do not inherit strengths tuned for --unlearn
        for key in ("unlearn_epochs", "unlearn_lr", "alpha", "msteps", "kd_T", "beta", "gamma",
                    "salun_ratio", "wf_samples", "no_l1_epochs"):
            base[key] = args.cli_defaults.get(key)
        base["mask"] = None
    cfg = Namespace(**{**base, **overrides, "unlearn": method})
    return apply_defaults(cfg)


def step_retain(train_idx, forget_idx, done_idx, rule):
    """paper: retain excludes every part processed so far, including the current one (§5.5);
    complement: retain is D minus the whole forget set at every step."""
    removed = forget_idx if rule == "complement" else done_idx
    return np.setdiff1d(train_idx, removed)


def method_label(args):
    if args.variant == "rum":
        return "rum-" + "+".join(m.strip() for m in args.rum_methods.split(","))
    return f"{args.variant}-{unlearn.canonical(args.unlearn)}"


def run_rum(args):
    parse_plan(args)
    ctx = setup(args)
    forget_set = build_forget_set(ctx)
    data = ctx.data
    train_idx = data.split.train_idx
    steps = plan_steps(args, forget_set.indices, train_idx)
    args.mask = load_mask(args.mask_path) if getattr(args, "mask_path", None) else None
    path = run_dir(args, method_label(args), forget_set) / "metrics.json"
    if getattr(args, "skip_existing", False) and path.exists():
        return None, path
    ensure_writable_dir(args.save_dir)
    fsets.save_forget_set(args.save_dir, forget_set, data.split.sha)
    sets = eval_sets(data, forget_set)
    reference, ref_dir = retrain_reference(ctx, forget_set, sets)
    seed_everything(args.seed)
    model, done, records, diverged = ctx.model, np.zeros(0, dtype=np.int64), [], None
    total = time.perf_counter()
    for number, (part, part_idx, method, overrides) in enumerate(steps):
        done = np.union1d(done, part_idx)
        retain = data.train.select(step_retain(train_idx, forget_set.indices, done, args.retain_rule), view=True)
        step_sets = {**sets, "forget": data.train.select(part_idx, view=True), "retain": retain}
        start = time.perf_counter()
        if method != "none" and diverged is None:
            cfg = step_config(args, method, overrides)
            try:
                model = unlearn.run_method(method, model, unlearn_data(ctx, step_sets, model, args.seed), cfg)
                check_finite_weights(model, method)
            except Diverged as e:
                diverged = f"step {number} ({part}, {method}): {e}"
        seconds = time.perf_counter() - start
        acc = {} if diverged else accuracies(model, {"part": step_sets["forget"], "forget": sets["forget"],
                                                     "retain": sets["retain"], "test": sets["test"]})
        records.append({"step": number, "part": part, "method": method, "size": int(len(part_idx)),
                        "retain_size": len(retain), "overrides": overrides, "accuracy": acc,
                        "wall_time_s": seconds})
    wall = time.perf_counter() - total
    result = {"diverged": diverged, **({"accuracy": {}, "mia": {}} if diverged else
                                       evaluate(model, sets, args.seed, ctx))}
    label = method_label(args)
    config = {k: v for k, v in vars(args).items() if k not in ("mask", "cli_defaults")}
    metrics = {**run_record(Namespace(**config), data.split), "method": label, "variant": args.variant,
               "retain_rule": args.retain_rule, "order": args.order,
               "forget_set": forget_set.describe(), "steps": records, **result,
               "reference": {"path": str(ref_dir), "accuracy": reference["accuracy"],
                             "mia": reference["mia"], "attacks": reference.get("attacks"),
                             "wall_time_s": reference["wall_time_s"]},
               **compare(result, reference), "wall_time_s": wall,
               "rte": wall / reference["wall_time_s"] if reference["wall_time_s"] else None}
    write_json(path, metrics)
    return metrics, path
