"""The strength search (scripts/strength_table.py): its grid, the choice by validation ToW, full
RUM's per-part plan, and the per-data-set defaults it writes, which every run then uses."""
from pathlib import Path

import main_forget
import main_rum
import unlearn
from conftest import load_script
from test_analysis import fake_run
from workflows.config import rum_config, unlearn_config
from workflows.rum import parse_plan

strength = load_script("strength_table")


def test_the_searched_defaults_in_the_package_are_valid_settings(monkeypatch):
    monkeypatch.setattr(unlearn, "TUNED_FILE", Path(unlearn.__file__).with_name("tuned_defaults.json"))
    searched = unlearn.searched_defaults()
    assert searched, "no searched defaults in the package"
    for dataset, methods in searched.items():
        for name, values in methods.items():
            assert set(values) <= set(unlearn.get_method(name).defaults), (dataset, name)
            assert {k: getattr(unlearn.resolve(name, dataset), k) for k in values} == values


def test_every_grid_starts_at_the_methods_own_setting():
    for method in strength.GRID:
        first = strength.points(method)[0]
        assert first == {k: unlearn.get_method(method).defaults[k] for k in first}, method


def search_run(root, method, group, seed, forget, test=94.0, **config):
    """A run of the search on `group`; the reference's forget accuracy is 60%."""
    folder = "-".join([method, *map(str, config.values())])
    return fake_run(root, method, "memorization", {"group": group, "proxy": "heldout", "n": 30}, seed, 0.9,
                    folder=folder, config=config, accuracy={"forget": forget, "retain": 98.0, "val": 94.0, "test": test})


def fake_search(root):
    """FT at the papers' LR leaves the forget accuracy at 100% with the test accuracy of the
    reference; at LR 0.1 it reaches 62% but loses test accuracy. The low group is already at the
    reference's forget accuracy: nothing to do there."""
    for seed in (101, 102):
        for group in strength.PARTS:
            search_run(root, "original", group, seed, 60.0 if group == "low" else 100.0)
            search_run(root, "FT", group, seed, 100.0, test=95.0, unlearn_lr=0.01)
            search_run(root, "FT", group, seed, 62.0, test=80.0, unlearn_lr=0.1)
    return strength.table(strength.search_runs(root))


def test_the_choice_follows_validation_tow_never_the_test_split(tmp_path):
    cells = fake_search(tmp_path)
    test_tow = {lr: [m["tow"] for m in strength.search_runs(tmp_path) if m["config"].get("unlearn_lr") == lr]
                for lr in (0.01, 0.1)}
    assert test_tow[0.01] == test_tow[0.1]  # the recorded (test) ToW cannot make the choice
    best = strength.defaults(cells)
    assert best["FT"][0] == (("unlearn_lr", 0.1),)
    choice = strength.per_part(cells)
    assert {p: (c[0], c[1]) for p, c in choice.items()} == \
        {"low": ("none", ()), "mid": ("FT", (("unlearn_lr", 0.1),)), "high": ("FT", (("unlearn_lr", 0.1),))}
    assert strength.rum_flags(choice) == "--rum_methods none,FT,FT --rum_lrs default,0.1,0.1"
    assert strength.moves_forget(cells, "FT", (("unlearn_lr", 0.1),))
    assert not strength.moves_forget(cells, "FT", (("unlearn_lr", 0.01),))
    assert strength.sentence(cells, best).startswith("At the papers' settings 0 of 1 methods") and \
        "searched defaults 1 of 1 do" in strength.sentence(cells, best)


def test_searched_defaults_apply_to_their_data_set_and_typed_flags_win(tmp_path, monkeypatch):
    monkeypatch.setattr(unlearn, "TUNED_FILE", tmp_path / "tuned.json")
    strength.write_defaults("synthetic", {"GA": ((("unlearn_lr", 0.003),), 0.9)})
    strength.write_defaults("digits", strength.defaults(fake_search(tmp_path)))
    assert unlearn.tuned_defaults("synthetic") == {"GA": {"unlearn_lr": 0.003}}  # kept
    assert unlearn.resolve("FT", "digits").unlearn_lr == 0.1
    assert unlearn.resolve("FT", "synthetic").unlearn_lr == 0.01  # not searched there: the method's own
    assert unlearn.resolve("FT", "digits", unlearn_lr=0.05).unlearn_lr == 0.05
    argv = ["--dataset", "digits", "--unlearn", "FT", "--num_indexes_to_replace", "5"]
    assert unlearn_config(main_forget.build_parser().parse_args(argv)).method.unlearn_lr == 0.1
    # every RUM step too, unless the plan sets its own LR for the part
    cfg = rum_config(main_rum.build_parser().parse_args(["--dataset", "digits", "--rum_methods", "FT,FT,FT",
                                                         "--rum_lrs", "default,default,0.2"]))
    _, steps = parse_plan(cfg)
    assert [steps[p].unlearn_lr for p in ("low", "mid", "high")] == [0.1, 0.1, 0.2]


def test_help_names_the_searched_default_next_to_the_papers(tmp_path, monkeypatch):
    from workflows.parsers import method_defaults
    monkeypatch.setattr(unlearn, "TUNED_FILE", tmp_path / "tuned.json")
    strength.write_defaults("digits", {"FT": ((("unlearn_lr", 0.1),), 0.9), "GA": ((("unlearn_lr", 0.0001),), 0.9)})
    text = method_defaults("unlearn_lr")
    assert "FT 0.01 (digits 0.1)," in text and "GA 0.0001," in text  # GA's search kept the papers' value
