import json
import shutil

import numpy as np
import pytest
import torch

import main_rum
import unlearn
from conftest import assert_clean_error, copy_run_with_confidence_scores, run_main
from datasets import forget_sets as fsets
from memorization import proxies
from workflows import rum


@pytest.fixture()
def rum_dir(trained_digits, tmp_path):
    return copy_run_with_confidence_scores(trained_digits, tmp_path / "run")


def test_shuffle_chunks_partition_the_forget_set():
    idx = np.arange(100, 131)
    parts = rum.shuffle_chunks(idx, seed=3)
    joined = np.concatenate([parts[p] for p in rum.PARTS])
    assert sorted(joined.tolist()) == idx.tolist() and len(joined) == len(set(joined))
    assert max(map(len, parts.values())) - min(map(len, parts.values())) <= 1
    assert not np.array_equal(joined, idx)  # actually shuffled


def test_refinement_orders_by_memorization():
    idx = np.array([10, 11, 12, 13, 14, 15, 16])
    scores = {10: 0.9, 11: 0.1, 12: 0.5, 13: 0.3, 14: 0.8, 15: 0.0, 16: 0.6}
    parts, ties = rum.refine_by_memorization(idx, scores, 0.5)
    assert parts["low"].tolist() == [15, 11, 13] and parts["mid"].tolist() == [12, 16]
    assert parts["high"].tolist() == [10, 14] and ties == []
    _, ties = rum.refine_by_memorization(idx, dict.fromkeys(idx, 0.0), 0.5)  # all tied: by position
    assert [t.split(":")[0] for t in ties] == ["high", "low"]


def test_retain_rules():
    train, forget, done = np.arange(10), np.array([1, 2, 3]), np.array([1])
    assert rum.step_retain(train, forget, done, "paper").tolist() == [0, 2, 3, 4, 5, 6, 7, 8, 9]
    assert rum.step_retain(train, forget, done, "complement").tolist() == [0, 4, 5, 6, 7, 8, 9]


def run_rum(rum_dir, monkeypatch, *extra):
    """Run main_rum in-process, recording what every step was given."""
    calls = []
    real = unlearn.run_method

    def spy(name, model, data, cfg):
        calls.append({"method": name, "forget": set(data.forget.idx.tolist()),
                      "retain": set(data.retain.idx.tolist()), "lr": cfg.unlearn_lr})
        return real(name, model, data, cfg)

    monkeypatch.setattr(unlearn, "run_method", spy)
    # a one-epoch retrain reference: these tests check the steps, not how good the reference is
    code = main_rum.main(["--save_dir", str(rum_dir), "--mem_proxy", "confidence",
                          "--num_indexes_to_replace", "30", "--retrain_epochs", "1", *extra])
    assert code == 0
    return calls


def test_rum_steps_order_parts_and_none(rum_dir, monkeypatch):
    calls = run_rum(rum_dir, monkeypatch, "--rum_methods", "none,FT,GA", "--rum_epochs", "1,1,1",
                    "--rum_lrs", "0.5,0.01,0.001", "--order", "high,low,mid")
    steps_calls = [c for c in calls if c["method"] != "retrain"]  # the reference is trained first
    path = next((rum_dir / "unlearn").glob("rum-none+FT+GA-*/*/s2/metrics.json"))
    m = json.loads(path.read_text())
    assert [s["part"] for s in m["steps"]] == ["high", "low", "mid"]
    assert [s["method"] for s in m["steps"]] == ["GA", "none", "FT"]
    # none runs nothing: only two methods were called, in the order of the parts
    assert [c["method"] for c in steps_calls] == ["GA", "FT"] and [c["lr"] for c in steps_calls] == [0.001, 0.01]
    forget_all = set(json.loads((rum_dir / "forget_sets" / f"{m['forget_set']['name']}.json").read_text())["indices"])
    high, mid = steps_calls[0]["forget"], steps_calls[1]["forget"]
    assert len(high) == len(mid) == 10 and not high & mid and high | mid < forget_all
    # paper rule: each step's retain set excludes every part done so far, including its own
    low = forget_all - high - mid
    assert not steps_calls[0]["retain"] & high and low | mid <= steps_calls[0]["retain"]
    assert not steps_calls[1]["retain"] & (high | low | mid)
    assert m["tow"] is not None and m["variant"] == "rum" and m["retain_rule"] == "paper"


def test_none_leaves_the_model_unchanged(rum_dir, monkeypatch):
    run_rum(rum_dir, monkeypatch, "--rum_methods", "none,none,none")
    m = json.loads(next((rum_dir / "unlearn").glob("rum-none+none+none-*/*/s2/metrics.json")).read_text())
    original = json.loads((rum_dir / "original" / "metrics.json").read_text())["accuracy"]
    assert m["accuracy"]["test"] == pytest.approx(original["test"])
    assert m["accuracy"]["val"] == pytest.approx(original["val"])


def test_controls_share_the_forget_set(rum_dir, monkeypatch):
    for variant in ("vanilla", "shuffle", "rumf"):
        run_rum(rum_dir, monkeypatch, "--variant", variant, "--unlearn", "GA")  # GA: steps on the forget set only
    shas = {json.loads(p.read_text())["forget_set"]["sha256"]
            for p in (rum_dir / "unlearn").glob("*/*/s2/metrics.json")}
    assert len(shas) == 1
    vanilla = json.loads(next((rum_dir / "unlearn").glob("vanilla-GA-*/*/s2/metrics.json")).read_text())
    assert len(vanilla["steps"]) == 1 and vanilla["steps"][0]["size"] == 30


def test_rum_bad_input(rum_dir):
    def rum_cli(*args):
        return run_main("main_rum.py", "--save_dir", rum_dir, "--num_indexes_to_replace", "30", *args)
    assert_clean_error(rum_cli("--mem_proxy", "nonexistent"), "python -m memorization")
    assert_clean_error(rum_cli("--mem_proxy", "confidence", "--rum_methods", "FT,GA"), "--rum_methods", "3 parts")
    assert_clean_error(rum_cli("--mem_proxy", "confidence", "--rum_methods", "FT,GA,Nope"), "Nope")
    assert_clean_error(run_main("main_rum.py", "--save_dir", rum_dir, "--num_indexes_to_replace", "2",
                                "--mem_proxy", "confidence"), "part", "empty")
    assert_clean_error(rum_cli("--mem_proxy", "confidence", "--order", "low,low,high"), "--order")
    # multi-request mode: a proxy it can compute on an unlearned model; its control needs it; RUM's spelling
    assert_clean_error(rum_cli("--mem_proxy", "confidence", "--requests", "2"), "--mem_proxy", "ho_ret")
    assert_clean_error(rum_cli("--mem_proxy", "ho_ret", "--frozen_scores"), "--requests")
    assert_clean_error(rum_cli("--sequential", "--retain_rule", "complement"), "--sequential")
    assert_clean_error(rum_cli("--mem_proxy", "ho_ret", "--unlearn_step", "50"), "nothing would be left")
    assert_clean_error(run_main("main_rum.py", "--save_dir", rum_dir, "--mem_proxy", "curvature", "--requests", "2"),
                       "--num_indexes_to_replace")


# ---- multi-request mode ------------------------------------------------------------------------

@pytest.fixture()
def requests_dir(trained_digits, tmp_path):
    """The shared trained run without other tests' outputs (multi-request runs need no score file)."""
    return shutil.copytree(trained_digits, tmp_path / "run", ignore=shutil.ignore_patterns(
        "unlearn", "retrain", "memorization", "forget_sets", "masks", "simclr", "augment", ".locks"))


def run_requests(folder, monkeypatch, capsys, *extra):
    """main_rum --requests 2 in-process (9 examples a request, one-epoch reference and ho_ret);
    returns (events in order: ("proxy", weights seen, raw scores, scored indices) and ("method",
    weights returned), the chosen sets by request, metrics, printed lines)."""
    events = []
    real_proxy, real_method = proxies.MODEL_PROXIES["ho_ret"], unlearn.run_method

    def weights(model):
        return {k: v.detach().clone() for k, v in model.state_dict().items()}

    def proxy_spy(model, data, args):
        score, info = real_proxy(model, data, args)
        events.append(("proxy", weights(model), np.asarray(score), data.train.idx.numpy()))
        return score, info

    def method_spy(name, model, data, cfg):
        model = real_method(name, model, data, cfg)
        events.append(("method", weights(model)))
        return model

    monkeypatch.setitem(proxies.MODEL_PROXIES, "ho_ret", proxy_spy)
    monkeypatch.setattr(unlearn, "run_method", method_spy)
    code = main_rum.main(["--save_dir", str(folder), "--mem_proxy", "ho_ret", "--requests", "2",
                          "--num_indexes_to_replace", "9", "--unlearn", "GA", "--unlearn_epochs", "1",
                          "--retrain_epochs", "1", "--ft_epochs", "1", *extra])
    assert code == 0
    run = next((folder / "unlearn").glob("*/requests2-mix_ho_ret_n9/s2"))
    chosen = [np.array(v) for _, v in sorted(json.loads((run / "requests.json").read_text()).items())]
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  request ")]
    return events, chosen, json.loads((run / "metrics.json").read_text()), printed


def selection(scores, scored, forgotten, n=9):
    """The mix of n that the scores pick among the scored examples not forgotten yet."""
    left = ~np.isin(scored, forgotten)
    return np.sort(fsets.memorization_set(scored[left], scores[left], "mix", n, "ho_ret").indices)


def same_weights(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def test_each_request_is_chosen_by_scores_of_the_model_left_by_the_one_before(requests_dir, monkeypatch, capsys):
    events, (first, second), m, printed = run_requests(requests_dir, monkeypatch, capsys)
    scored = [e for e in events if e[0] == "proxy"]
    assert len(scored) == 2
    original = torch.load(requests_dir / "original" / "model.pt", weights_only=True)
    assert same_weights(scored[0][1], original)
    # the second scoring saw the model that request 1's last step returned, not the original
    before = next(i for i, e in enumerate(events) if e is scored[1])
    last_step = [e for e in events[:before] if e[0] == "method"][-1]
    assert same_weights(scored[1][1], last_step[1]) and not same_weights(scored[1][1], original)
    assert not np.intersect1d(first, second).size
    assert np.array_equal(first, selection(scored[0][2], scored[0][3], []))
    assert np.array_equal(second, selection(scored[1][2], scored[1][3], first))
    assert [r["scores"] for r in m["requests"]] == ["recomputed", "recomputed"]
    assert [r["forgotten"] for r in m["requests"]] == [9, 18] and m["forget_set"]["size"] == 18
    assert all(r["tow"] is not None and r["proxy_time_s"] > 0 for r in m["requests"])
    assert m["tow"] == m["requests"][-1]["tow"] and len(printed) == 2


def test_frozen_scores_choose_every_request_by_the_originals(requests_dir, monkeypatch, capsys):
    events, (first, second), m, printed = run_requests(requests_dir, monkeypatch, capsys, "--frozen_scores",
                                                  "--variant", "vanilla")
    scored = [e for e in events if e[0] == "proxy"]
    assert len(scored) == 1  # once, on the original model
    assert same_weights(scored[0][1], torch.load(requests_dir / "original" / "model.pt", weights_only=True))
    assert np.array_equal(second, selection(scored[0][2], scored[0][3], first))
    assert not np.intersect1d(first, second).size
    assert [r["scores"] for r in m["requests"]] == ["recomputed", "frozen"]
    assert m["requests"][1]["proxy_time_s"] < m["requests"][0]["proxy_time_s"] and len(printed) == 2
