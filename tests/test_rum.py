import json

import numpy as np
import pytest

import main_rum
import unlearn
from conftest import assert_clean_error, copy_run_with_confidence_scores, run_main
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
