"""Multi-request RUM (the scalability paper): S requests arrive one after another, and request s
removes a `--mem` set of N examples from those not yet forgotten.

Before each request the memorization proxy (ho_ret or curvature) is computed again on the CURRENT
model, the one left by the requests before, and the request is chosen by those fresh scores and
unlearned as main_rum's --variant says (refined into low / mid / high by the same scores and
unlearned part by part, or all at once with vanilla). `--frozen_scores`, the control, chooses every
request by the scores of the original model. Each request is scored against the retrain reference
of everything forgotten so far (the cached references of workflows/forget.py).
"""
import argparse
import dataclasses
import time

import numpy as np

from datasets import forget_sets as fsets
from engine.errors import Diverged, UserError
from engine.io import ensure_writable_dir, write_json
from engine.seed import seed_everything
from memorization.proxies import MODEL_PROXIES, SIGNS, ProxyFlags
from .forget import (Run, compare, done_before, eval_sets, evaluate, record_run, retrain_reference, run_dir,
                     run_identity, setup, warn_ties)
from .rum import method_label, parse_plan, plan_steps, unlearn_in_steps


def plan_key(cfg):
    """The run identity's forget set: how the requests are chosen, since their sets are only known as
    the run goes (the number of requests and --frozen_scores are flags, in the identity already)."""
    return {"mem": cfg.mem, "proxy": cfg.mem_proxy, "n": cfg.num_indexes_to_replace}


def forgotten_name(cfg, count):
    return f"requests{count}-{cfg.mem}_{cfg.mem_proxy}_n{cfg.num_indexes_to_replace}"


def forgotten_set(cfg, request_sets):
    """Everything the first len(request_sets) requests removed, as one forget set (its retrain
    reference is the model trained without all of it)."""
    return fsets.ForgetSet(forgotten_name(cfg, len(request_sets)), "requests",
                           np.concatenate([r.indices for r in request_sets]),
                           {"group": cfg.mem, "proxy": cfg.mem_proxy, "n": cfg.num_indexes_to_replace,
                            "requests": len(request_sets), "scores": scores_mode(cfg)})


def scores_mode(cfg):
    return "frozen" if cfg.frozen_scores else "recomputed"


def proxy_settings(cfg):
    """The proxy's settings as `python -m memorization proxy` takes them: its own flags, and this
    run's batch size, seed and SGD momentum / weight decay."""
    own = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(ProxyFlags)}
    return argparse.Namespace(**own, batch_size=cfg.batch_size, seed=cfg.seed, momentum=cfg.method.momentum,
                              weight_decay=cfg.method.weight_decay)


def score_model(cfg, ctx, model):
    """(scores of `model` for every training example in data.train order, higher = more memorized;
    what the proxy reports)."""
    try:
        raw, info = MODEL_PROXIES[cfg.mem_proxy](model, ctx.data, proxy_settings(cfg))
    except Diverged as e:
        raise UserError(f"{cfg.mem_proxy}: {e}; lower --ft_lr")
    return SIGNS[cfg.mem_proxy] * np.asarray(raw, dtype=np.float64), info


def candidate_scores(train_idx, candidates, scores):
    """{original index: score} of the examples not forgotten yet (`scores`: one per train_idx)."""
    keep = np.isin(train_idx, candidates)
    return dict(zip(train_idx[keep].tolist(), scores[keep].tolist()))


def choose_request(cfg, number, scores_of):
    """Request `number`: the --mem group of N among the candidates, by their scores `scores_of`
    ({original index: score}); the mid target is taken over the candidates alone."""
    fs = fsets.memorization_set(np.fromiter(scores_of, np.int64), np.fromiter(scores_of.values(), float), cfg.mem,
                                cfg.num_indexes_to_replace, cfg.mem_proxy, cfg.allow_overlap)
    warn_ties(f"request {number}, --mem {cfg.mem}", fs.params.get("ties"))
    fs.name = f"request{number}-{fs.name}"
    return fs


def request_sets(data, chosen, candidates):
    """What a request's steps see: its forget set, the candidates left as retain, val and test."""
    return {"forget": data.train.select(chosen.indices, view=True),
            "retain": data.train.select(np.setdiff1d(candidates, chosen.indices), view=True),
            "val": data.val, "test": data.test}


def evaluate_request(ctx, model, chosen, forgotten, diverged):
    """The model after a request, as `outcome` reports a run: accuracies (also on the request's own
    set), MIA and attacks, with everything forgotten so far as the forget set."""
    if diverged:
        return {"diverged": diverged, "accuracy": {}, "mia": {}}
    sets = {**eval_sets(ctx.data, forgotten), "request": ctx.data.train.select(chosen.indices, view=True)}
    return {"diverged": None, **evaluate(model, sets, ctx.cfg.seed, ctx)}


def check_total(cfg, train_idx):
    total = cfg.requests * (cfg.num_indexes_to_replace or 0)
    if total >= len(train_idx):
        raise UserError(f"--requests {cfg.requests} x --num_indexes_to_replace {cfg.num_indexes_to_replace} would "
                        f"forget {total} of the {len(train_idx)} training examples; nothing would be left to retain")


def run_requests(cfg):
    """The whole of main_rum.py --requests S: returns (metrics, path of metrics.json); metrics is
    None when --skip_existing found the run done."""
    plan = parse_plan(cfg)
    ctx = setup(cfg)
    train_idx = ctx.data.split.train_idx
    check_total(cfg, train_idx)
    label = method_label(cfg)
    identity = run_identity(cfg, ctx, plan_key(cfg), None, None)
    path = run_dir(cfg, label, forgotten_name(cfg, cfg.requests), identity) / "metrics.json"
    if cfg.skip_existing and done_before(path, ctx):
        return None, path
    ensure_writable_dir(cfg.save_dir)
    model, candidates, chosen, records, scores = ctx.model, train_idx, [], [], None
    for number in range(1, cfg.requests + 1):
        start = time.perf_counter()
        fresh = scores is None or not cfg.frozen_scores
        if fresh:
            scores, info = score_model(cfg, ctx, model)
        proxy_s = time.perf_counter() - start
        scores_of = candidate_scores(train_idx, candidates, scores)
        chosen.append(choose_request(cfg, number, scores_of))
        steps, ties = plan_steps(cfg, plan, chosen[-1].indices, lambda: (scores_of, None))  # proxies: the median
        forgotten = forgotten_set(cfg, chosen)
        reference, reference_dir = retrain_reference(ctx, forgotten, eval_sets(ctx.data, forgotten))
        seed_everything(cfg.seed)  # a request's unlearning does not depend on whether its reference was cached
        model, steps_done, diverged = unlearn_in_steps(ctx, model, steps, candidates,
                                                       request_sets(ctx.data, chosen[-1], candidates))
        unlearn_s = sum(step["wall_time_s"] for step in steps_done)  # the methods' time, not the step evaluations
        result = evaluate_request(ctx, model, chosen[-1], forgotten, diverged)
        records.append({"request": number, "size": len(chosen[-1].indices), "candidates": len(candidates),
                        "forgotten": len(forgotten.indices), "forget_set": chosen[-1].describe(),
                        "scores": "recomputed" if fresh else "frozen", "proxy_time_s": proxy_s,
                        "proxy": info if fresh else None, "unlearn_time_s": unlearn_s, "steps": steps_done,
                        **({"refinement_ties": ties} if ties else {}),
                        "reference": {"path": str(reference_dir), "accuracy": reference["accuracy"],
                                      "mia": reference["mia"], "wall_time_s": reference["wall_time_s"]},
                        **result, **compare(result, reference)})
        candidates = np.setdiff1d(candidates, chosen[-1].indices)
        if diverged:
            result["diverged"] = f"request {number}, {diverged}"
            break
    run = Run(ctx, label, forgotten, eval_sets(ctx.data, forgotten), path, reference=reference,
              reference_dir=reference_dir)
    # the cost of the method: proxy recomputations and unlearning (not the references, not evaluation)
    wall = sum(r["proxy_time_s"] + r["unlearn_time_s"] for r in records)
    metrics = record_run(run, result, wall, variant=cfg.variant, retain_rule=cfg.retain_rule, order=cfg.order,
                         scores=scores_mode(cfg), proxy_time_s=sum(r["proxy_time_s"] for r in records),
                         requests=records)
    write_json(path.parent / "requests.json", {r.name: np.sort(r.indices).tolist() for r in chosen})
    write_json(path, metrics)
    return metrics, path
