"""Training of the original model (and of any model from scratch on a given training set)."""
import contextlib
import shutil
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import datasets
import models
from evaluation import accuracies, accuracy
from engine import distributed, recipe
from engine.device import fast_path_plan, prepare_model, select
from engine.errors import Diverged, UserError
from engine.events import LearningEvents
from engine.io import (load_state, locked, read_json, recover_folder, replace_folder, save_state, staging,
                       write_json)
from engine.config import record
from engine.record import run_record
from engine.seed import generator, seed_everything
from engine.train import Trainer
from models import build_args, save_model


def save_progress(path, model, h, gen, history, events, recipe_record):
    """The state after an epoch, and its sidecar: the checksum and the recipe it was made with."""
    state = {"model": model.state_dict(), "trainer": h.state_dict(), "generator": gen.get_state(),
             "history": torch.tensor(history, dtype=torch.float64)}
    if events is not None:
        state["events"] = events.state()
    sha = save_state(path, state)
    write_json(Path(path).with_suffix(".json"), {"sha256": sha, "recipe": recipe_record})


def restore_progress(path, model, h, gen, events, recipe_record):
    """Continue from the last finished epoch of a killed run (--resume); a run with another
    recipe is refused (its weights would be recorded under a recipe that did not make them)."""
    sidecar = Path(path).with_suffix(".json")
    if not sidecar.is_file():
        raise UserError(f"the resume checkpoint {path} is incomplete (killed while saving it?); drop --resume "
                        "to start again")
    meta = read_json(sidecar, "resume checkpoint description", schema={"sha256": str, "recipe": dict})
    changed = [k for k, v in recipe_record.items() if meta["recipe"].get(k) != v]
    if changed:
        k = changed[0]
        raise UserError(f"--resume: the killed run used --{k} {meta['recipe'].get(k)}, not {recipe_record[k]}; "
                        f"resume with --{k} {meta['recipe'].get(k)}, or drop --resume to start again")
    state = load_state(path, "resume checkpoint", sha256=meta["sha256"])
    try:
        model.load_state_dict(state["model"])
        h.load_state_dict(state["trainer"])
        gen.set_state(state["generator"])
        if events is not None:
            events.load(state["events"])
    except (KeyError, RuntimeError, ValueError) as e:
        raise UserError(f"resume checkpoint {path} does not fit this run ({str(e).splitlines()[0]}); "
                        "delete it or drop --resume")
    return state["history"].tolist()


def fit(model, train_set, cfg, seed, desc="train", events=None, val_set=None, checkpoint=None,
        resume=False, recipe_record=None):
    """Cross-entropy training from the model's current weights with the recipe of `cfg` (resolved
    OptimFlags and a batch size); returns (trainer, val history). With `checkpoint`, the state
    after every epoch is saved there; `resume` continues from it."""
    steps = -(-len(train_set) // cfg.batch_size)
    h = Trainer(model, desc=desc, **recipe.trainer_kwargs(cfg, steps))
    gen = generator(seed, offset=1)
    fast = recipe.is_fast(cfg)
    if fast:  # whitening init of the first layer from (unaugmented) training images
        models.whiten_init(model, next(train_set.batches(recipe.WHITEN_SAMPLE))[0])
    history = []
    if resume and checkpoint is not None and Path(checkpoint).exists():
        history = restore_progress(checkpoint, model, h, gen, events, recipe_record or {})
    if checkpoint is not None:
        h.on_epoch_end.append(lambda epoch: save_progress(checkpoint, model, h, gen, history, events,
                                                          recipe_record or {}))
    model.train()
    for epoch in h.epochs():
        for x, y, idx in train_set.batches(cfg.batch_size, shuffle=True, augment=True,
                                           generator=gen, with_index=True,
                                           flip_epoch=epoch if fast else None):
            with h.autocast():
                logits = model(x)
                loss = recipe.loss(logits, y, cfg) if fast else F.cross_entropy(logits, y)
            if events is not None:
                events.record(epoch, idx, logits, y)
            h.step(loss)
        h.check_finite()
        if val_set is not None and len(val_set):
            history.append(accuracy(recipe.for_eval(model, cfg, val_set), val_set))
            model.train()
    return h, history


# the flags of the original model's recipe that RUM's unlearning scripts also accept
RECIPE_FLAGS = ("arch", "epochs", "lr", "batch_size", "scheduler", "decreasing_lr", "gamma_lr", "recipe")


def ensure_original(cfg, typed):
    """RUM's unlearning commands carry the original model's recipe (`--epochs --lr --batch_size`
    ...): train the original with it when <save_dir>/original has none; otherwise refuse a typed
    recipe flag that differs from what the original was trained with (one line naming it)."""
    marker = Path(cfg.save_dir) / "original" / "metrics.json"
    if not marker.exists():
        print(f"no original model in {cfg.save_dir}/original: training it first (main_train.py's recipe)")
        metrics = train_original(cfg)
        if metrics["diverged"]:
            raise UserError(f"the original model diverged ({metrics['diverged']}); lower --lr")
        return metrics
    trained = read_json(marker, "original model metrics")
    recorded = {**trained["config"], "arch": trained.get("arch")}
    for flag in RECIPE_FLAGS:
        mine, theirs = vars(cfg)[flag], recorded.get(flag)
        if flag in typed and _plain(mine) != _plain(theirs):
            raise UserError(f"the original model in {cfg.save_dir}/original was trained with --{flag} "
                            f"{_shown(theirs)}, not {_shown(mine)}: drop --{flag} or use another --save_dir")
    return trained


def _plain(value):
    return list(value) if isinstance(value, (list, tuple)) else value


def _shown(value):
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else value


def resume_record(cfg, arch):
    """What a resumed run must share with the killed one: everything that shapes the weights."""
    kept = ("dataset", "val_size", "split_seed", "no_aug", "synth_n", "synth_shape", "synth_label_noise", "seed",
            "batch_size", "epochs", "lr", "momentum", "weight_decay", "scheduler", "decreasing_lr", "gamma_lr",
            "warmup", "recipe")
    flat = record(cfg)
    return {"arch": arch, **{k: flat[k] for k in kept}}


def train_original(cfg):
    """main_train.py: train, evaluate and save the original model; returns its metrics.

    Everything is written to a staging folder and put in place of <save_dir>/original only when
    complete, so an interrupted or diverged run leaves the previous original model as it was."""
    device = distributed.init(select(cfg))  # torchrun: join the data-parallel group
    fast_path_plan(device, cfg.compile)  # refuses --compile on CPU before anything is written
    bundle = datasets.bundle_from(cfg)
    arch = models.check_arch(cfg.arch or bundle.default_arch)
    data = datasets.attach(cfg, bundle, device, create_split=True)
    out = recover_folder(Path(cfg.save_dir) / "original", "metrics.json")
    # data parallel: rank 0 alone locks, writes and moves files (the others wait in collectives)
    main = distributed.is_main()
    with locked(Path(cfg.save_dir) / ".locks" / "original", "the original model") if main \
            else contextlib.nullcontext():
        return _train_into(cfg, out, staging(out), arch, data, device, main)


def _train_into(cfg, out, stage, arch, data, device, main):
    if main and not cfg.resume:
        shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg.seed)
    build = build_args(arch, data)
    model = prepare_model(models.build_model(**build), device, compile=cfg.compile)
    events = LearningEvents(data.train.idx, cfg.epochs, device)
    start = time.perf_counter()
    diverged = None
    try:
        h, history = fit(model, data.train, cfg, cfg.seed, desc="original", events=events, val_set=data.val,
                         checkpoint=stage / "progress.pt", resume=cfg.resume, recipe_record=resume_record(cfg, arch))
    except Diverged as e:
        diverged, history = str(e), []
    wall = time.perf_counter() - start
    config = run_record(record(cfg), data.split, arch=arch, device=str(device))
    metrics = {**config, "diverged": diverged,
               "accuracy": {} if diverged else accuracies(recipe.for_eval(model, cfg, data.train),
                                                            {"train": data.train, "val": data.val,
                                                             "test": data.test}),
               "val_history": history, "wall_time_s": wall}
    if diverged and (out / "model.json").exists():  # keep the last good model; record nothing over it
        if main:
            shutil.rmtree(stage, ignore_errors=True)
        return {**metrics, "kept": str(out)}
    if not diverged:
        save_model(stage, model, build, dataset=cfg.dataset, split_sha=data.split.sha, seed=cfg.seed)
        events.save(stage / "learning_events.npz")
    write_json(stage / "config.json", config)
    write_json(stage / "metrics.json", metrics)  # written last: its presence marks a finished run
    if main:
        for leftover in ("progress.pt", "progress.json"):
            (stage / leftover).unlink(missing_ok=True)
        replace_folder(out)
    return metrics
