"""The RUM meta-algorithm (refine the forget set by memorization, unlearn the parts in sequence)
and its controls, as one sequential pipeline (docs/reference.md).

The forget set is refined into parts and the parts are unlearned in sequence, each step starting
from the previous step's model:

- `rum`     memorization-refined parts (low / mid / high), a method per part (`none` skips);
- `rumf`    memorization-refined parts, the same method (--unlearn) for every part (RUM^F);
- `shuffle` three random equal chunks in sequence, the same method (control);
- `vanilla` the whole forget set in one go with --unlearn (control).

Every variant is scored against the retrain reference of the WHOLE forget set. `main_rum.py
--requests S` runs a variant on each of S requests in turn (workflows/multireq.py).
"""
import time

import numpy as np

import unlearn
from datasets import forget_sets as fsets
from engine.errors import Diverged, UserError
from engine.io import write_json
from engine.train import check_finite_weights
from evaluation import accuracies
from .config import step_method
from .forget import outcome, prepare_run, record_run, score_path, unlearn_data, warn_ties

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


def refine_by_memorization(forget_idx, scores_by_index, target):
    """({low, mid, high: original indices}, cuts inside ties): the forget set cut by the rule of the
    memorization groups with the part sizes of `mix` (a third each, low the remainder). The sizes
    add up to the whole set, so these are its thirds by score; the groups' rule only makes sure a
    `mix` set is refined into exactly the parts it was built from."""
    forget_idx = np.asarray(forget_idx)
    scores = np.array([scores_by_index[i] for i in forget_idx])
    groups = fsets.group_split(scores, fsets.part_sizes(len(forget_idx)), target)
    return {"low": forget_idx[groups.low], "mid": forget_idx[groups.mid], "high": forget_idx[groups.high]}, \
        list(groups.ties.values())


def shuffle_chunks(forget_idx, seed):
    perm = np.random.RandomState(seed).permutation(np.asarray(forget_idx))
    return dict(zip(PARTS, np.array_split(perm, 3)))


def parse_plan(cfg):
    """Check the RUM flags and resolve every step's method settings before any data is read:
    (order, {part: MethodConfig or None for `none`})."""
    order = [p.strip() for p in cfg.order.split(",")]
    if sorted(order) != sorted(PARTS):
        raise UserError(f"--order {cfg.order!r} must name low, mid and high once each")
    methods = split_list(cfg.rum_methods, 3, "--rum_methods") if cfg.variant == "rum" else [cfg.method.unlearn] * 3
    lrs = split_list(cfg.rum_lrs, 3, "--rum_lrs", float) if cfg.rum_lrs else [None] * 3
    epochs = split_list(cfg.rum_epochs, 3, "--rum_epochs", int) if cfg.rum_epochs else [None] * 3
    alphas = split_list(cfg.rum_alphas, 3, "--rum_alphas", float) if cfg.rum_alphas else [None] * 3
    if cfg.variant == "vanilla":  # one step on the whole set: the per-part flags do not apply
        return order, {"all": step_method(cfg, cfg.method.unlearn, {}, keep_mask=True)}
    per_part = {}
    for part, name, lr, ep, al in zip(PARTS, methods, lrs, epochs, alphas):
        overrides = {k: v for k, v in (("unlearn_lr", lr), ("unlearn_epochs", ep), ("alpha", al)) if v is not None}
        # the --mask_path mask belongs to the --unlearn method; strengths tuned for it are the user's
        per_part[part] = None if name == "none" else \
            step_method(cfg, name, overrides, keep_mask=unlearn.canonical(name) == cfg.method.unlearn)
    return order, per_part


def file_scores(cfg, train_idx, original_sha256):
    """A function giving ({original index: score}, the file's mid target or None for the median)
    from the score file behind --mem_proxy (read when called: only the variants that refine by
    memorization need it)."""
    path = score_path(cfg)
    return lambda: (dict(zip(train_idx.tolist(), fsets.load_scores(path, train_idx, original_sha256))),
                    fsets.natural_middle(path))


def refine(cfg, forget_idx, scores_of):
    """({part: original indices}, cuts inside ties) of the variant (vanilla: one part, the whole
    set); `scores_of()` gives the scores by original index of the examples the forget set was chosen
    among and the mid target of the groups (None: the median). A refinement by memorization whose cuts fell inside
    tied scores says so on stderr."""
    if cfg.variant == "vanilla":
        return {"all": np.asarray(forget_idx)}, []
    if cfg.variant == "shuffle":
        return shuffle_chunks(forget_idx, cfg.seed), []
    by_index, middle = scores_of()
    parts, ties = refine_by_memorization(forget_idx, by_index,
                                         fsets.mid_target(np.fromiter(by_index.values(), float), middle))
    warn_ties("refining the forget set by memorization", ties)
    return parts, ties


def plan_steps(cfg, plan, forget_idx, scores_of):
    """([(part name, indices, MethodConfig or None)] in execution order, the refinement's cuts
    inside ties)."""
    order, per_part = plan
    parts, ties = refine(cfg, forget_idx, scores_of)
    if cfg.variant == "vanilla":
        return [("all", parts["all"], per_part["all"])], ties
    steps = []
    for part in order:
        if len(parts[part]) == 0:
            raise UserError(f"the {part} part of the forget set is empty (forget set of "
                            f"{len(forget_idx)} examples); use at least 3 examples")
        # Shuffle's chunks are random, not memorization parts: named so in the output
        label = f"chunk{PARTS.index(part) + 1}" if cfg.variant == "shuffle" else part
        steps.append((label, parts[part], per_part[part]))
    return steps, ties


def step_retain(train_idx, forget_idx, done_idx, rule):
    """paper: retain excludes every part processed so far, including the current one (RUM's
    sequence); complement: retain is D minus the whole forget set at every step."""
    removed = forget_idx if rule == "complement" else done_idx
    return np.setdiff1d(train_idx, removed)


def method_label(cfg):
    if cfg.variant == "rum":
        return "rum-" + "+".join(m.strip() for m in cfg.rum_methods.split(","))
    return f"{cfg.variant}-{cfg.method.unlearn}"


def run_step(ctx, model, step_sets, method, mask):
    """One step's method on its part; returns the new model."""
    data = unlearn_data(ctx, step_sets, model, ctx.cfg.seed, mask)
    model = unlearn.run_method(method.unlearn, model, data, method)
    check_finite_weights(model, method.unlearn)
    return model


def unlearn_in_steps(ctx, model, steps, candidates, sets, mask=None):
    """The steps in order, each starting from the previous step's model, on `sets["forget"]` cut
    into parts; a step's retain set is taken from `candidates` (the training examples not forgotten
    before) by --retain_rule. Returns (model, a record per step, why it diverged or None)."""
    cfg, data = ctx.cfg, ctx.data
    forget_idx = sets["forget"].idx.cpu().numpy()
    done, records, diverged = np.zeros(0, dtype=np.int64), [], None
    for number, (part, part_idx, method) in enumerate(steps):
        done = np.union1d(done, part_idx)
        retain = data.train.select(step_retain(candidates, forget_idx, done, cfg.retain_rule), view=True)
        step_sets = {**sets, "forget": data.train.select(part_idx, view=True), "retain": retain}
        start = time.perf_counter()
        name = method.unlearn if method else "none"
        if method is not None and diverged is None:
            try:
                model = run_step(ctx, model, step_sets, method, mask if method.mask_path else None)
            except Diverged as e:
                diverged = f"step {number} ({part}, {name}): {e}"
        seconds = time.perf_counter() - start
        acc = {} if diverged else accuracies(model, {"part": step_sets["forget"], "forget": sets["forget"],
                                                     "retain": sets["retain"], "test": sets["test"]})
        records.append({"step": number, "part": part, "method": name, "size": int(len(part_idx)),
                        "retain_size": len(retain), "settings": vars(method) if method else None,
                        "accuracy": acc, "wall_time_s": seconds})
    return model, records, diverged


def run_rum(cfg):
    """The whole of main_rum.py for one forget set: returns (metrics, path of metrics.json); metrics
    is None when --skip_existing found the run done."""
    plan = parse_plan(cfg)
    run, path = prepare_run(cfg, method_label(cfg), check=lambda ctx, fs: plan_steps(
        cfg, plan, fs.indices, file_scores(cfg, ctx.data.split.train_idx, ctx.original_sha256)))
    if run is None:
        return None, path
    steps, ties = run.checked
    model, records, diverged = unlearn_in_steps(run.ctx, run.ctx.model, steps, run.ctx.data.split.train_idx,
                                                run.sets, run.mask)
    wall = time.perf_counter() - run.started
    metrics = record_run(run, outcome(model, run, diverged), wall, variant=cfg.variant,
                         retain_rule=cfg.retain_rule, order=cfg.order, steps=records,
                         **({"refinement_ties": ties} if ties else {}))
    write_json(path, metrics)
    return metrics, path
