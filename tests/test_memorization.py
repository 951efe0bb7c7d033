"""memorization/: heldout estimator (batched, sequential, sharded), proxies, ES and its groups."""
import json
import runpy
import shutil
import signal
import sys
import time
from dataclasses import replace

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import datasets
import main_train
import models
from conftest import ROOT, run_main
from memorization import heldout, jobs, path_choice
from memorization.__main__ import main as memorization_main
from evaluation.accuracy import embeddings
from memorization.entanglement import distance_groups, entanglement_score, entanglement_terms
from memorization.proxies import KINDS
from memorization.seeds import draw_subset, resolve_shard
from memorization.stack import VmapStack, WideStack, make_stack

SYNTH = ["--dataset", "synthetic", "--synth_n", "600"]
TINY = ["--arch", "mlp", "--num_models", "6", "--epochs", "2", "--models_per_batch", "4"]


def mem(*args):
    """`python -m memorization ...` in this process (no interpreter start-up per call)."""
    return memorization_main([str(a) for a in args])


def fails(capsys, *args):
    """Run a command that must fail cleanly; returns its one stderr line."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        mem(*args)
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2, (args, err)
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def load(path):
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    """A synthetic run whose original mlp memorizes its training set (train accuracy 100%)."""
    save = tmp_path_factory.mktemp("mem_synth")
    assert main_train.main([*SYNTH, "--arch", "mlp", "--epochs", "30", "--batch_size", "32",
                            "--lr", "0.05", "--save_dir", str(save)]) == 0
    bundle = datasets.load_bundle("synthetic", synth_n=600)
    planted = bundle.extras["rare"] | bundle.extras["mislabeled"]
    return save, planted


def split_only(src, dst):
    """A save_dir with the split of `src` and nothing else (the estimator needs no model)."""
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(src / "split.json", dst / "split.json")
    return dst


def test_heldout_finds_planted_examples_batched_and_sequential(synth, tmp_path):
    save, planted = synth
    config = [*SYNTH, "--num_models", "16", "--epochs", "10", "--save_dir", save]  # else defaults
    scores = {}
    for path in ("batched", "sequential"):
        assert mem("estimate", *config, *(["--sequential"] if path == "sequential" else ["--path", "batched"])) == 0
        out = load(save / "memorization" / "heldout.npz")
        scores[path] = out
        record = json.loads((save / "memorization" / "heldout.json").read_text())
        assert record["settings"]["path"] == path and record["settings"]["arch"] == "tinymlp"  # the data set's learner
        assert record["seed"] == 2 and record["versions"]["torch"] and record["split"]["sha256"]
        assert set(out) == {"index", "score", "memorization_sign", "score_kind", "score_logit",
                            "score_correctness", "n_in", "n_out", "in_subset", "train_correct",
                            "train_phi", "test_phi", "test_index"}
        assert str(out["score_kind"]) == "logit" and np.array_equal(out["score"], out["score_logit"], equal_nan=True)
        assert out["in_subset"].shape == out["train_phi"].shape == (16, len(out["index"]))
        assert np.array_equal(out["in_subset"].sum(0), out["n_in"])
        assert out["index"].dtype == np.int64 and out["score"].dtype == np.float32
        assert out["memorization_sign"].shape == () and int(out["memorization_sign"]) == 1
        assert np.all(out["n_in"] + out["n_out"] == 16)
        finite = np.isfinite(out["score_correctness"])
        assert finite.mean() > 0.99 and np.all(np.abs(out["score_correctness"][finite]) <= 1)
        for kind in ("logit", "correctness"):
            auc = roc_auc_score(planted[out["index"]], np.nan_to_num(out[f"score_{kind}"], nan=-1))
            assert auc >= 0.9, (path, kind, auc)
    a, b = scores["batched"], scores["sequential"]
    assert np.array_equal(a["index"], b["index"]) and np.array_equal(a["n_in"], b["n_in"])
    both = np.isfinite(a["score"]) & np.isfinite(b["score"])
    assert np.corrcoef(a["score"][both], b["score"][both])[0, 1] > 0.9


def test_heldout_file_alone_recomputes_its_scores_exactly(synth, tmp_path):
    """heldout.npz keeps every model's membership, 0/1 correctness (bit-packed) and logit
    confidence: both scores follow from the file and the formula, bit for bit."""
    save, _ = synth
    run = split_only(save, tmp_path / "run")
    for kind in ("correctness", "logit"):
        assert mem("estimate", *SYNTH, *TINY, "--score", kind, "--save_dir", run) == 0
        z = load(run / "memorization" / "heldout.npz")
        member = z["in_subset"]
        correct = np.unpackbits(z["train_correct"], axis=1, count=member.shape[1]).astype(bool)
        values = {"correctness": correct.astype(np.float64), "logit": z["train_phi"].astype(np.float64)}
        n_in, n_out = member.sum(0), (~member).sum(0)
        for name, v in values.items():
            with np.errstate(invalid="ignore", divide="ignore"):  # never in or never out: NaN
                expected = np.where(member, v, 0).sum(0) / n_in - np.where(member, 0, v).sum(0) / n_out
            assert np.array_equal(z[f"score_{name}"], expected.astype(np.float32), equal_nan=True), name
        assert str(z["score_kind"]) == kind and np.array_equal(z["score"], z[f"score_{kind}"], equal_nan=True)
        assert np.isnan(z["score"]).sum() < len(z["score"])  # some examples were in and out


def test_subsets_depend_on_seed_and_model_only():
    a, b = draw_subset(100, 0.7, 3, 5), draw_subset(100, 0.7, 3, 5)
    assert np.array_equal(a, b) and len(a) == 70 and np.all(np.diff(a) > 0)
    assert not np.array_equal(a, draw_subset(100, 0.7, 3, 6))
    assert not np.array_equal(a, draw_subset(100, 0.7, 4, 5))


def test_sharded_merge_equals_unsharded_exactly(synth, tmp_path, monkeypatch):
    save, _ = synth
    run = split_only(save, tmp_path / "run")
    assert mem("estimate", *SYNTH, *TINY, "--influence", "--save_dir", run) == 0
    whole = load(run / "memorization" / "heldout.npz")
    assert whole["influence"].shape == (len(whole["index"]), 150)
    (run / "memorization" / "heldout.npz").unlink()
    assert mem("estimate", *SYNTH, *TINY, "--influence", "--shard", 0, "--num_shards", 3, "--save_dir", run) == 0
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "1")  # shard 1 from a SLURM array task
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "3")
    assert mem("estimate", *SYNTH, *TINY, "--influence", "--save_dir", run) == 0
    monkeypatch.delenv("SLURM_ARRAY_TASK_ID")
    monkeypatch.delenv("SLURM_ARRAY_TASK_COUNT")
    monkeypatch.setenv("RANK", "2")  # shard 2 from torchrun
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert mem("estimate", *SYNTH, *TINY, "--influence", "--save_dir", run) == 0
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("WORLD_SIZE")
    shards = sorted(p.name for p in (run / "memorization" / "shards").iterdir())
    assert shards == ["heldout_0of3.npz", "heldout_1of3.npz", "heldout_2of3.npz"]
    assert not (run / "memorization" / "heldout.npz").exists()
    assert mem("merge", "--save_dir", run) == 0
    merged = load(run / "memorization" / "heldout.npz")
    assert set(merged) == set(whole)
    for key in whole:
        if key.endswith("_phi"):  # float confidences: the group a model is evaluated in may change the last bit
            assert np.allclose(merged[key], whole[key], rtol=1e-2, atol=1e-2), key
        else:
            assert np.array_equal(merged[key], whole[key], equal_nan=key not in ("index", "score_kind")), key
    record = json.loads((run / "memorization" / "heldout.json").read_text())
    assert len(record["merged_shards"]) == 3


def test_incomplete_or_killed_shards_are_never_taken_as_complete(synth, tmp_path, capsys, monkeypatch):
    save, _ = synth
    run = split_only(save, tmp_path / "run")
    shards = run / "memorization" / "shards"
    # a shard killed while writing leaves only a temp file (engine.io writes temp then renames)
    shards.mkdir(parents=True)
    (shards / ".heldout_1of2.npz.x1y2.tmp").write_bytes(b"partial")
    assert mem("estimate", *SYNTH, *TINY, "--shard", 0, "--num_shards", 2, "--save_dir", run) == 0
    err = fails(capsys, "merge", "--save_dir", run)
    assert "missing 1 of 2" in err and "heldout_1of2.npz" in err
    assert not (run / "memorization" / "heldout.npz").exists()
    # a complete shard is skipped when asked again
    capsys.readouterr()
    assert mem("estimate", *SYNTH, *TINY, "--shard", 0, "--num_shards", 2, "--save_dir", run) == 0
    assert "skipped" in capsys.readouterr().out
    # ... but not if the flags changed: it was made with other settings
    assert "other settings" in fails(capsys, "estimate", *SYNTH, *TINY, "--lr", "0.2", "--shard", 0,
                                     "--num_shards", 2, "--save_dir", run)

    # a shard killed during training writes nothing
    def killed(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(heldout, "correctness", killed)
    with pytest.raises(SystemExit) as e:
        mem("estimate", *SYNTH, *TINY, "--shard", 1, "--num_shards", 2, "--save_dir", run)
    assert e.value.code == 130
    assert sorted(p.name for p in shards.iterdir() if p.suffix == ".npz") == ["heldout_0of2.npz"]


@pytest.mark.slow
def test_estimate_jobs_equals_one_process_and_resumes(synth, tmp_path):
    """--jobs 2 after a kill that left shard 0 complete: only shard 1 is started (a real process),
    and the merged estimate is the one-process one, bit for bit."""
    save, _ = synth
    flags = ["estimate", *SYNTH, *TINY, "--path", "batched"]
    one, two = (split_only(save, tmp_path / name) for name in ("one", "two"))
    assert mem(*flags, "--save_dir", one) == 0
    assert mem(*flags, "--shard", 0, "--num_shards", 2, "--save_dir", two) == 0
    proc = run_main("memorization", *flags, "--jobs", 2, "--save_dir", two)
    assert proc.returncode == 0, proc.stderr
    assert "shard 0 of 2 was already complete" in proc.stdout and "shard 1 of 2" not in proc.stdout
    whole, merged = (load(r / "memorization" / "heldout.npz") for r in (one, two))
    assert set(merged) == set(whole)
    for key in whole:
        assert np.array_equal(merged[key], whole[key], equal_nan=whole[key].dtype.kind == "f"), key
    record = json.loads((two / "memorization" / "heldout.json").read_text())
    assert record["jobs"]["processes"] == 2 and record["path_choice"] == {"path": "batched", "chosen_by": "--path"}
    assert sorted(p.name for p in (two / "memorization" / "shards").iterdir()) == ["heldout_0of2.npz",
                                                                                   "heldout_1of2.npz"]


def test_a_failing_shard_stops_the_others(synth, tmp_path, monkeypatch, capsys):
    save, _ = synth
    run = split_only(save, tmp_path / "run")
    started = []

    class Recorded(jobs.ShardProcess):
        def __init__(self, *args):
            super().__init__(*args)
            started.append(self)

    def command(argv, args, path, shard):  # shard 0 would run for a minute; shard 1 fails at once
        code = "import time; time.sleep(60)" if shard == 0 else "raise SystemExit('memorization: error: disk full')"
        return [sys.executable, "-c", code]

    monkeypatch.setattr(jobs, "ShardProcess", Recorded)
    monkeypatch.setattr(jobs, "shard_command", command)
    start = time.monotonic()
    err = fails(capsys, "estimate", *SYNTH, *TINY, "--path", "batched", "--jobs", 2, "--save_dir", run)
    assert err == "memorization: error: shard 1 of 2 failed: disk full"
    assert [s.proc.returncode for s in started] == [-signal.SIGTERM, 1] and time.monotonic() - start < 30
    assert "not both" in fails(capsys, "estimate", *SYNTH, "--jobs", 2, "--shard", 0, "--num_shards", 2,
                               "--save_dir", run)


def test_shard_progress_files_add_up_to_one_bar(tmp_path):
    from memorization.progress_file import ShardProgress
    files = [heldout.shard_path(tmp_path, i, 2) for i in range(2)]
    files[0].parent.mkdir(parents=True)
    files[0].write_bytes(b"complete")  # a complete shard counts all its model-epochs
    tracker = ShardProgress(heldout.progress_path(files[1]), 6)
    tracker.advance(2)
    tracker.advance(1)  # within a second of the last write: not written yet
    assert jobs.model_epochs_done(files, [6, 6]) == 6 + 2
    tracker.advance(3)  # the last one is always written
    assert jobs.model_epochs_done(files, [6, 6]) == 6 + 6
    tracker.close()
    assert jobs.model_epochs_done(files, [6, 6]) == 6


def test_path_auto_takes_the_faster_path_and_caches_it(synth, tmp_path, monkeypatch):
    save, _ = synth
    run = split_only(save, tmp_path / "run")
    record = lambda: json.loads((run / "memorization" / "heldout.json").read_text())
    assert mem("estimate", *SYNTH, *TINY, "--save_dir", run) == 0  # a tiny estimate: not worth measuring
    assert record()["path_choice"]["chosen_by"].startswith("size") and record()["settings"]["path"] == "batched"
    monkeypatch.setattr(path_choice, "WORTH_CALIBRATING", 1)
    for faster, per_batch in (("sequential", 4), ("batched", 3)):  # another group size: another cache entry
        timings = {"batched": 2.0, "sequential": 1.0} if faster == "sequential" else {"batched": 1.0, "sequential": 2.0}
        monkeypatch.setattr(path_choice, "calibrate", lambda *a: timings)
        flags = ["estimate", *SYNTH, *TINY, "--models_per_batch", per_batch, "--save_dir", run]
        assert mem(*flags) == 0
        choice = record()["path_choice"]
        assert choice["path"] == record()["settings"]["path"] == faster and choice["chosen_by"] == "calibration"
        assert choice["seconds_per_model_step"] == timings

        def not_again(*a):
            raise AssertionError("calibrated again despite the cache")

        monkeypatch.setattr(path_choice, "calibrate", not_again)
        assert mem(*flags) == 0
        assert record()["path_choice"]["chosen_by"] == "calibration cache" and record()["settings"]["path"] == faster
    assert len(json.loads((run / "memorization" / "path_calibration.json").read_text())) == 2
    args = heldout.estimator_args(save_dir=str(run))
    assert path_choice.choose_path(args, None, "resnet18", None, None, not_again)["path"] == "sequential"


def test_batched_stacks_train_like_separate_models_including_batchnorm(synth):
    save, _ = synth
    bundle = datasets.load_bundle("synthetic", synth_n=600)
    data = datasets.prepare_data(bundle, save, "cpu", create_split=False)
    args = heldout.estimator_args(seed=1, epochs=1, lr=0.05, batch_size=32)
    build = heldout.build_args("cnn", data)  # the cnn has BatchNorm
    subsets = {k: draw_subset(len(data.train), 0.7, 1, k) for k in range(2)}
    plain = [heldout.train_group([k], subsets, data, build, args, torch.device("cpu"), False, 1)
             for k in range(2)]
    for kind, cls in (("wide", WideStack), ("vmap", VmapStack)):
        stack = heldout.train_group([0, 1], subsets, data, build, replace(args, stack=kind),
                                    torch.device("cpu"), True, 2)
        assert isinstance(stack, cls)
        for j in range(2):
            state, ref = stack.state_dict_of(j), plain[j].state_dict()
            assert set(state) == set(ref)
            for name in ref:
                assert torch.allclose(state[name].float(), ref[name].float(), atol=2e-4, rtol=1e-3), (kind, name)
            # running statistics moved, per model
            assert not torch.allclose(state["body.0.1.running_mean"], torch.zeros(32))
            model = models.build_model(**build)
            model.load_state_dict(state)
    assert not torch.allclose(plain[0].state_dict()["body.0.1.running_mean"],
                              plain[1].state_dict()["body.0.1.running_mean"])


def test_stacks_go_through_the_gpu_fast_paths(synth, monkeypatch):
    """The batched path hands the stack to engine.device.prepare_model (channels_last and
    --compile on CUDA) exactly as the sequential path hands one model; on a CPU it is a no-op."""
    save, _ = synth
    data = datasets.prepare_data(datasets.load_bundle("synthetic", synth_n=600), save, "cpu", create_split=False)
    args = heldout.estimator_args(seed=1, epochs=1, batch_size=64)
    build = heldout.build_args("cnn", data)
    subsets = {k: draw_subset(len(data.train), 0.7, 1, k) for k in range(2)}
    seen, real = [], heldout.prepare_model

    def spy(model, device, compile=False):
        seen.append(type(model))
        out = real(model, device, compile)
        assert out is model  # CPU: nothing converted, nothing compiled
        return out

    monkeypatch.setattr(heldout, "prepare_model", spy)
    heldout.train_group([0, 1], subsets, data, build, args, torch.device("cpu"), True, 2)
    heldout.train_group([0], subsets, data, build, args, torch.device("cpu"), False, 1)
    assert seen[0] is WideStack and seen[1] is not WideStack


def test_make_stack_falls_back_to_vmap_for_unknown_layers():
    class Odd(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.norm = torch.nn.LayerNorm(4)
            self.fc = torch.nn.Linear(4, 3)

        def forward(self, x):
            return self.fc(self.norm(x))

    nets = [Odd(), Odd()]
    x = torch.randn(5, 4)
    stack = make_stack(nets, x)
    assert isinstance(stack, VmapStack)
    assert torch.allclose(stack(x, shared=True), torch.stack([n(x) for n in nets]), atol=1e-6)


def test_shard_resolution_from_flags_and_environment():
    assert resolve_shard(None, None, {}) == (0, 1, None)
    assert resolve_shard(1, 4, {"RANK": "3", "WORLD_SIZE": "8"})[:2] == (1, 4)
    assert resolve_shard(None, None, {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "4",
                                      "SLURM_ARRAY_TASK_COUNT": "3"})[:2] == (1, 3)
    assert resolve_shard(None, None, {"RANK": "2", "WORLD_SIZE": "3"})[:2] == (2, 3)


def test_proxies_shapes_signs_and_direction(synth):
    save, planted = synth
    n_train = len(load(save / "original" / "learning_events.npz")["index"])
    expected_sign = {"confidence": -1, "max_conf": -1, "entropy": -1, "bi_acc": -1, "ho_ret": 1, "curvature": 1}
    assert set(KINDS) == set(expected_sign)
    for kind in KINDS:
        extra = ["--ft_epochs", "8"] if kind == "ho_ret" else []
        assert mem("proxy", *SYNTH, "--kind", kind, "--save_dir", save, *extra) == 0
        out = load(save / "memorization" / f"{kind}.npz")
        assert set(out) == {"index", "score", "memorization_sign"}
        assert out["index"].shape == out["score"].shape == (n_train,)
        assert int(out["memorization_sign"]) == expected_sign[kind]
        assert np.isfinite(out["score"]).all()
        oriented = out["score"] * out["memorization_sign"]
        auc = roc_auc_score(planted[out["index"]], oriented)
        assert auc > (0.85 if expected_sign[kind] < 0 else 0.6), (kind, auc)
        side = json.loads((save / "memorization" / f"{kind}.json").read_text())
        assert side["kind"] == kind and side["memorization_sign"] == expected_sign[kind]
    events = load(save / "original" / "learning_events.npz")
    conf = load(save / "memorization" / "confidence.npz")
    assert np.allclose(conf["score"], events["confidence"].mean(0), atol=1e-6)
    assert (load(save / "memorization" / "entropy.npz")["score"] <= 1e-6).all()  # negative entropy


def test_entanglement_score_uses_exact_means(synth):
    save, _ = synth
    bundle = datasets.load_bundle("synthetic", synth_n=600)
    data = datasets.prepare_data(bundle, save, "cpu", create_split=False)
    torch.manual_seed(0)
    model = models.build_model("cnn", 10, (1, 8, 8), bundle.mean, bundle.std)
    model.train()  # ES must switch to eval mode itself (BatchNorm uses running statistics)
    retain, forget = data.train.subset(np.arange(0, 61)), data.train.subset(np.arange(61, 84))
    es = entanglement_score(model, retain, forget, batch_size=7)  # 61 = 8*7+5: a short last batch
    assert model.training
    with torch.no_grad():
        model.eval()
        fr = model.features(retain.x.float()).double().numpy()
        ff = model.features(forget.x.float()).double().numpy()
    mu_r, mu_f = fr.mean(0), ff.mean(0)
    mu = (mu_r + mu_f) / 2
    intra = ((fr - mu_r) ** 2).sum(1).mean() + ((ff - mu_f) ** 2).sum(1).mean()
    inter = (((mu_r - mu) ** 2).sum() + ((mu_f - mu) ** 2).sum()) / 2
    assert es == pytest.approx(intra / inter, rel=1e-6)
    assert inter == pytest.approx(((mu_r - mu_f) ** 2).sum() / 4, rel=1e-9)
    # the mean of batch means (RUM's bug) is a different number here
    batch_means = np.mean([fr[i:i + 7].mean(0) for i in range(0, 61, 7)], axis=0)
    assert not np.allclose(batch_means, mu_r, rtol=1e-4)
    # the size-weighted centre is the documented alternative
    glob = entanglement_terms(fr, ff, mu="global")
    centre = np.concatenate([fr, ff]).mean(0)
    inter_g = (((mu_r - centre) ** 2).sum() + ((mu_f - centre) ** 2).sum()) / 2
    assert glob["es"] == pytest.approx(intra / inter_g, rel=1e-6)
    # features come without augmentation: identical to a plain pass
    assert np.allclose(embeddings(model, retain, 7).numpy(), fr)


def test_distance_groups_and_es_command(synth):
    save, _ = synth
    bundle = datasets.load_bundle("synthetic", synth_n=600)
    data = datasets.prepare_data(bundle, save, "cpu", create_split=False)
    from models import load_model
    model, _ = load_model(save / "original", data)
    groups, dists = distance_groups(model, data.train, 15, return_distances=True)
    size = len(data.train) // 15
    assert len(groups) == 15 and all(len(g) == size for g in groups)
    flat = np.concatenate(groups)
    assert len(np.unique(flat)) == len(flat) and np.isin(flat, data.train.idx.numpy()).all()
    assert all(dists[g].max() <= dists[g + 1].min() for g in range(14))
    assert all(np.all(np.diff(d) >= 0) for d in dists)
    assert mem("es", *SYNTH, "--save_dir", save) == 0
    out = json.loads((save / "memorization" / "es_groups.json").read_text())
    assert [r["group"] for r in out["groups"]] == list(range(15)) and out["mu"] == "midpoint"
    assert all(r["size"] == size and r["es"] > 0 for r in out["groups"])
    assert [r["indices"] for r in out["groups"]] == [g.tolist() for g in groups]


def read_csv(path):
    import csv
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_report_correlates_proxies_and_scores_every_group(synth, tmp_path, capsys):
    save, _ = synth
    run = tmp_path / "run"
    shutil.copytree(save, run, ignore=shutil.ignore_patterns("memorization"))
    assert "memorization estimate" in fails(capsys, "report", *SYNTH, "--save_dir", run)
    assert mem("estimate", *SYNTH, *TINY, "--save_dir", run) == 0
    for kind in ("confidence", "bi_acc"):
        assert mem("proxy", *SYNTH, "--kind", kind, "--save_dir", run) == 0
    assert mem("report", *SYNTH, "--save_dir", run) == 0
    out = run / "memorization" / "report"
    rows = {r["proxy"]: r for r in read_csv(out / "correlations.csv")}
    assert set(rows) == {"confidence", "bi_acc"}
    held, conf = load(run / "memorization" / "heldout.npz"), load(run / "memorization" / "confidence.npz")
    assert np.array_equal(held["index"], conf["index"])
    from scipy.stats import pearsonr, spearmanr
    ok = np.isfinite(held["score"])
    assert float(rows["confidence"]["spearman"]) == pytest.approx(
        spearmanr(conf["score"][ok], held["score"][ok]).statistic, abs=1e-9)
    assert float(rows["confidence"]["pearson"]) == pytest.approx(
        pearsonr(conf["score"][ok], held["score"][ok]).statistic, abs=1e-6)
    es = read_csv(out / "es.csv")
    assert [(r["kind"], r["group"]) for r in es] == (
        [("memorization", g) for g in ("high", "mid", "low", "mix")] + [("distance", str(g)) for g in range(15)])
    size = int(es[-1]["size"])
    assert all(int(r["size"]) == size and float(r["es"]) > 0 for r in es)
    assert (out / "scatter.png").read_bytes()[:4] == b"\x89PNG"
    record = json.loads((out / "report.json").read_text())
    assert record["config"]["command"] == "report"
    planted = synth[1][held["index"]]
    assert record["planted_auc"]["heldout"] == pytest.approx(
        roc_auc_score(planted, np.nan_to_num(held["score"].astype(np.float64), nan=-1e300)))
    assert record["planted_auc"]["confidence"] == pytest.approx(roc_auc_score(planted, -conf["score"]))


def test_digits_confidence_proxy_ranks_like_the_heldout_estimate(tmp_path):
    """On digits the confidence proxy and the heldout estimate agree (Spearman <= -0.4): a fast
    version of the default's measured property (docs/results.md) with a small learner, a tinymlp
    original and 128 heldout models of 3 epochs."""
    flags = ["--dataset", "digits", "--save_dir", str(tmp_path), "--seed", "2"]
    assert main_train.main([*flags, "--arch", "tinymlp", "--epochs", "30"]) == 0
    assert mem("estimate", *flags, "--num_models", "128", "--epochs", "3") == 0
    assert mem("proxy", *flags, "--kind", "confidence") == 0
    assert mem("report", *flags) == 0
    rows = {r["proxy"]: r for r in read_csv(tmp_path / "memorization" / "report" / "correlations.csv")}
    assert float(rows["confidence"]["spearman"]) <= -0.4, rows


def test_bad_input_is_one_line_exit_2(synth, tmp_path, capsys):
    save, _ = synth
    empty = tmp_path / "empty"
    assert "main_train.py" in fails(capsys, "estimate", *SYNTH, "--save_dir", empty)
    assert not empty.exists()
    bare = split_only(save, tmp_path / "bare")  # a split but no original model / events
    assert "main_train.py" in fails(capsys, "proxy", *SYNTH, "--kind", "confidence", "--save_dir", bare)
    assert "main_train.py" in fails(capsys, "proxy", *SYNTH, "--kind", "ho_ret", "--save_dir", bare)
    assert "main_train.py" in fails(capsys, "es", *SYNTH, "--save_dir", bare)
    assert "--kind" in fails(capsys, "proxy", *SYNTH, "--kind", "loss", "--save_dir", bare)
    assert "--num_models" in fails(capsys, "estimate", *SYNTH, "--num_models", "1", "--save_dir", bare)
    assert "--num_models" in fails(capsys, "estimate", *SYNTH, "--num_models", "x", "--save_dir", bare)
    assert "--subset_ratio" in fails(capsys, "estimate", *SYNTH, "--subset_ratio", "1.5", "--save_dir", bare)
    assert "--epochs" in fails(capsys, "estimate", *SYNTH, "--epochs", "0", "--save_dir", bare)
    assert "shard 3" in fails(capsys, "estimate", *SYNTH, "--shard", "3", "--num_shards", "2", "--save_dir", bare)
    assert "together" in fails(capsys, "estimate", *SYNTH, "--shard", "0", "--save_dir", bare)
    assert "--h" in fails(capsys, "proxy", *SYNTH, "--kind", "curvature", "--h", "-1", "--save_dir", save)
    assert "--ft_lr" in fails(capsys, "proxy", *SYNTH, "--kind", "ho_ret", "--ft_lr", "0", "--save_dir", save)
    assert "--n_groups" in fails(capsys, "es", *SYNTH, "--n_groups", "0", "--save_dir", save)
    assert "--n_groups" in fails(capsys, "report", *SYNTH, "--n_groups", "0", "--save_dir", save)
    assert "no shard files" in fails(capsys, "merge", "--save_dir", bare)
    assert "invalid choice" in fails(capsys, "forget")
    assert not (bare / "memorization").exists()  # nothing half-written


def test_module_entry_point_errors_without_traceback(tmp_path, monkeypatch, capsys):
    # `python -m memorization` as the interpreter runs it (runpy sets sys.argv[0] to __main__.py),
    # in this process: a new interpreter would spend seconds importing torch
    monkeypatch.setattr(sys, "argv", ["-m", "estimate", "--save_dir", str(tmp_path / "x")])
    monkeypatch.delitem(sys.modules, "memorization.__main__")  # run afresh, as by the interpreter
    with pytest.raises(SystemExit) as exit_:
        runpy.run_module("memorization", run_name="__main__", alter_sys=True)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and "main_train.py" in err, err
    assert err.startswith("memorization: error:")


def test_an_interrupted_estimate_resumes_from_its_finished_models(trained_digits, tmp_path, monkeypatch):
    """A time-out after the first group of models: the rerun trains only the rest, and the scores
    equal those of an uninterrupted run bit for bit."""
    flags = ["--num_models", "4", "--models_per_batch", "2", "--epochs", "1", "--arch", "tinymlp", "--path", "batched"]
    runs = {}
    for name in ("whole", "killed"):
        runs[name] = tmp_path / name
        shutil.copytree(trained_digits, runs[name], ignore=shutil.ignore_patterns("unlearn", "retrain"))
    assert memorization_main(["estimate", "--save_dir", str(runs["whole"]), *flags]) == 0
    real, calls = heldout.train_group, []

    def killed_after_one_group(*a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(heldout, "train_group", killed_after_one_group)
    with pytest.raises(SystemExit):
        memorization_main(["estimate", "--save_dir", str(runs["killed"]), *flags])
    assert (runs["killed"] / "memorization" / "heldout.partial.npz").is_file()
    calls.clear()
    monkeypatch.setattr(heldout, "train_group", lambda *a, **kw: (calls.append(1), real(*a, **kw))[1])
    assert memorization_main(["estimate", "--save_dir", str(runs["killed"]), *flags]) == 0
    assert len(calls) == 1  # only the second group was trained again
    a, b = (np.load(r / "memorization" / "heldout.npz") for r in (runs["whole"], runs["killed"]))
    for key in ("score", "in_subset", "train_phi", "test_phi"):
        assert np.array_equal(a[key], b[key], equal_nan=True), key
    assert not (runs["killed"] / "memorization" / "heldout.partial.npz").exists()
