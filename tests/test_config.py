"""The run config is frozen once parsed; a method is one file that describes itself."""
import dataclasses
import json
import shutil
import sys
import textwrap

import pytest
import torch

import main_forget
from conftest import run_folder
import main_rum
import unlearn
from engine.config import record
from engine.errors import UserError
from workflows.config import rum_config, unlearn_config


def parse(script, *argv):
    return script.build_parser().parse_args(["--save_dir", "runs/x", *argv])


def test_config_is_immutable_after_parsing_and_records_resolved_values():
    cfg = unlearn_config(parse(main_forget, "--unlearn", "NegGrad+", "--num_indexes_to_replace", "9"))
    for obj, name in ((cfg, "seed"), (cfg, "tag"), (cfg.method, "alpha"), (cfg.method, "unlearn_lr")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, name, 1)
    assert (cfg.method.unlearn, cfg.method.alpha, cfg.method.unlearn_epochs) == ("NG", 0.99, 5)
    flat = record(cfg)
    assert flat["unlearn"] == "NG" and flat["alpha"] == 0.99 and flat["num_indexes_to_replace"] == 9
    json.dumps(flat)  # recordable as it is
    rum = rum_config(parse(main_rum, "--num_indexes_to_replace", "9"))
    assert rum.mem == "mix" and rum.variant == "rum"  # RUM's default forget set, resolved once
    with pytest.raises(dataclasses.FrozenInstanceError):
        rum.mem = "high"


def test_bad_strengths_are_refused_while_the_config_is_built():
    with pytest.raises(UserError, match="--alpha must be a finite number >= 0 and <= 1 for --unlearn NG"):
        unlearn_config(parse(main_forget, "--unlearn", "NG", "--alpha", "1.5"))
    with pytest.raises(UserError, match="unknown --unlearn 'nope'"):
        unlearn_config(parse(main_forget, "--unlearn", "nope"))


def test_registry_refuses_a_duplicate_name():
    with pytest.raises(ValueError, match="registered twice"):
        unlearn.register("FT")(lambda model, data, cfg: model)
    with pytest.raises(ValueError, match="registered twice"):
        unlearn.register("my-ft", "NegGrad")(lambda model, data, cfg: model)  # an alias is a name too
    assert "my-ft" not in unlearn.METHODS


def test_a_method_sees_only_the_parts_it_declares(monkeypatch):
    seen = {}

    def probe(model, data, cfg):
        seen.update(forget=data.forget, retain=data.retain, original=data.original)
        return model

    monkeypatch.setitem(unlearn.METHODS, "probe", unlearn.Method("probe", probe, {}, {}, frozenset({"retain"}),
                                                                 True, False, lambda c: 1.0, None, "probe"))
    data = unlearn.UnlearnData("F", "R", "V", "T", 10, "O", lambda: None)
    unlearn.run_method("probe", "model", data, unlearn.resolve("probe"))
    assert seen == {"forget": None, "retain": "R", "original": None}
    assert "forget" not in unlearn.get_method("retrain").uses


TOY_METHOD = '''
    """`toy`: scales the linear head by --alpha (a method in one file)."""
    import torch

    from unlearn import Range, register


    @register("toy", defaults={"alpha": 0.5}, checks={"alpha": Range(0, 1)}, uses={"forget"}, loop=False)
    def toy(model, data, cfg):
        """Scale the linear head by --alpha."""
        with torch.no_grad():
            model.fc.weight.mul_(cfg.alpha)
        return model
'''


def test_a_new_method_is_one_file(trained_digits, tmp_path, monkeypatch, capsys):
    """A toy method in a module of its own registers itself and runs through main_forget.py."""
    (tmp_path / "toy_method.py").write_text(textwrap.dedent(TOY_METHOD))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "toy_method", raising=False)
    import toy_method  # noqa: F401  (registers "toy")
    try:
        run = tmp_path / "run"
        shutil.copytree(trained_digits, run, ignore=shutil.ignore_patterns("unlearn", "retrain"))
        argv = ["--save_dir", str(run), "--unlearn", "toy", "--num_indexes_to_replace", "20",
                "--retrain_epochs", "1", "--save_model"]
        assert main_forget.main(argv) == 0
        out = run_folder(run, "toy", "random_n20_s2")
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["method"] == "toy" and metrics["config"]["alpha"] == 0.5
        before = torch.load(run / "original" / "model.pt", weights_only=True)["fc.weight"]
        after = torch.load(out / "model.pt", weights_only=True)["fc.weight"]
        assert torch.allclose(after, 0.5 * before)
        with pytest.raises(SystemExit) as e:
            main_forget.main([*argv, "--alpha", "3"])
        assert e.value.code == 2 and "--alpha must be" in capsys.readouterr().err
    finally:
        unlearn.METHODS.pop("toy", None)


def test_rums_line_with_only_unlearn_runs_its_template():
    """main_rum.py --unlearn NG --mem mix (RUM's README line): RUM^F with the template's settings per
    part; a typed per-part flag wins; nothing at all is full RUM none,FT,SalUn."""
    ng = rum_config(parse(main_rum, "--unlearn", "NegGrad+", "--num_indexes_to_replace", "9"))
    assert (ng.variant, ng.rum_alphas, ng.rum_epochs, ng.rum_lrs) == ("rumf", "0.99,0.97,0.97", "5,5,10",
                                                                      "0.01,0.01,0.001")
    args = parse(main_rum, "--unlearn", "NG", "--rum_epochs", "1,1,1")
    assert rum_config(args).rum_epochs == "1,1,1"  # a typed per-part flag wins over the template
    ga = rum_config(parse(main_rum, "--unlearn", "GA"))
    assert (ga.variant, ga.rum_alphas) == ("rumf", None)
    full = rum_config(parse(main_rum))
    assert (full.variant, full.rum_methods, full.method.unlearn) == ("rum", "none,FT,SalUn", "FT")


def test_unlearn_list_names_every_registered_thing_once(capsys):
    import datasets
    import models
    from unlearn.__main__ import main as unlearn_main
    assert unlearn_main(["list"]) == 0
    out = capsys.readouterr().out
    lines = [line.split()[0] for line in out.splitlines() if line.startswith("  ")]
    expected = [*unlearn.METHODS, *datasets.LOADERS, *models.MODELS]
    assert all(lines.count(name) == 1 for name in expected), (expected, lines)
    assert "NegGrad+" in out and "heldout" in out


def test_a_new_data_set_and_model_are_one_file_each(tmp_path, monkeypatch):
    """The README's example (a data set and a model in one module) runs through main_train.py and
    main_forget.py."""
    import datasets
    import main_train
    import models
    from conftest import ROOT
    readme = (ROOT / "README.md").read_text()
    start = readme.index('"""`blobs`')
    (tmp_path / "blobs_example.py").write_text(readme[start:readme.index("```", start)])
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "blobs_example", raising=False)
    import blobs_example  # noqa: F401  (registers "blobs" and "linear")
    try:
        save = tmp_path / "run"
        assert main_train.main(["--dataset", "blobs", "--save_dir", str(save), "--epochs", "3"]) == 0
        metrics = json.loads((save / "original" / "metrics.json").read_text())
        assert metrics["arch"] == "linear" and metrics["accuracy"]["test"] > 50  # ten easy blobs
        assert main_forget.main(["--dataset", "blobs", "--save_dir", str(save), "--num_indexes_to_replace", "20",
                                 "--retrain_epochs", "1", "--unlearn_epochs", "1"]) == 0
    finally:
        datasets.LOADERS.pop("blobs", None)
        models.MODELS.pop("linear", None)


def test_help_shows_each_strengths_real_default_per_method(capsys):
    with pytest.raises(SystemExit):
        main_forget.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: None)" not in text
    for flag in ("unlearn_epochs", "unlearn_lr", "alpha", "kd_T", "salun_ratio", "wf_samples"):
        for name, method in unlearn.METHODS.items():
            if flag in method.defaults:
                assert f"{name} {method.defaults[flag]}" in text, (flag, name)


def test_files_keep_the_umask_mode(tmp_path):
    import os
    import engine.io
    old = os.umask(0o022)
    try:
        engine.io.UMASK = 0o022
        engine.io.write_json(tmp_path / "a.json", {})
    finally:
        os.umask(old)
        engine.io.UMASK = old
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644
