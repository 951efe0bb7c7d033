"""Every entry script × wrong types, out-of-range numbers, unknown names, missing and corrupt
files, an unwritable output folder, a checkpoint of another architecture or class count.
Each case must give ONE line on stderr naming the flag or file, exit code 2, no traceback, and
leave the output folder untouched. Run in-process (the scripts' main(argv)) to stay fast."""
import importlib
import json
import shutil

import pytest

SCRIPTS = {"main_train": "main_train", "main_forget": "main_forget", "main_random": "main_random",
           "main_rum": "main_rum", "generate_mask": "generate_mask", "analysis": "analysis",
           "analysis_mia": "analysis_mia", "memorization": "memorization.__main__"}


@pytest.fixture(scope="module")
def base(trained_digits, tmp_path_factory):
    """A finished run with a bad checkpoint beside it and a few bad files."""
    root = tmp_path_factory.mktemp("matrix")
    run = root / "run"
    shutil.copytree(trained_digits, run)
    other_arch = root / "other_arch"
    shutil.copytree(run / "original", other_arch)
    meta = json.loads((other_arch / "model.json").read_text())
    meta["build"]["arch"] = "cnn" if meta["build"]["arch"] != "cnn" else "mlp"
    (other_arch / "model.json").write_text(json.dumps(meta))
    other_classes = root / "other_classes"
    shutil.copytree(run / "original", other_classes)
    meta = json.loads((other_classes / "model.json").read_text())
    meta["build"]["num_classes"] = 5
    (other_classes / "model.json").write_text(json.dumps(meta))
    (root / "corrupt.pt").write_bytes(b"\x00garbage")
    (root / "corrupt.json").write_text("{not json")
    (root / "a_file").write_text("x")
    (root / "scores_corrupt.npz").write_bytes(b"PK\x03\x04broken")
    return root


def snapshot(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_mtime_ns) for p in folder.rglob("*"))


def cases(b):
    R = ["--save_dir", str(b / "run")]
    n = ["--num_indexes_to_replace", "10"]
    return [
        # main_train
        ("main_train", ["--epochs", "x", "--save_dir", str(b / "new")], "--epochs"),
        ("main_train", ["--lr", "-1", "--save_dir", str(b / "new")], "--lr"),
        ("main_train", ["--val_size", "2", "--save_dir", str(b / "new")], "--val_size"),
        ("main_train", ["--dataset", "mnist9", "--save_dir", str(b / "new")], "--dataset"),
        ("main_train", ["--arch", "resnet9", "--save_dir", str(b / "new")], "--arch"),
        ("main_train", ["--dataset", "cifar10", "--data", str(b / "nowhere"), "--save_dir", str(b / "new")], "cifar"),
        ("main_train", ["--save_dir", str(b / "a_file" / "sub"), "--epochs", "1"], "--save_dir"),
        ("main_train", ["--device", "tpu9", "--save_dir", str(b / "new")], "--device"),
        # main_forget
        ("main_forget", R + ["--num_indexes_to_replace", "x"], "--num_indexes_to_replace"),
        ("main_forget", R + ["--num_indexes_to_replace", "-5"], "--num_indexes_to_replace"),
        ("main_forget", R + ["--num_indexes_to_replace", "999999"], "--num_indexes_to_replace"),
        ("main_forget", R + n + ["--unlearn", "oblivion"], "--unlearn"),
        ("main_forget", R + n + ["--unlearn", "FT", "--unlearn_lr", "nan"], "--unlearn_lr"),
        ("main_forget", R + ["--forget_index_file", str(b / "missing.txt")], "--forget_index_file"),
        ("main_forget", R + ["--forget_index_file", str(b / "corrupt.json")], "corrupt"),
        ("main_forget", R + n + ["--unlearn", "SalUn", "--mask_path", str(b / "corrupt.pt")], "--mask_path"),
        ("main_forget", R + n + ["--start_model", str(b / "other_arch")], "architecture"),
        ("main_forget", R + n + ["--start_model", str(b / "other_classes")], "classes"),
        ("main_forget", R + n + ["--mem", "high", "--mem_file", str(b / "scores_corrupt.npz")], "corrupt"),
        ("main_forget", R + n + ["--group_index", "15"], "--group_index"),
        ("main_forget", ["--save_dir", str(b / "a_file")] + n, "main_train.py"),
        # main_random
        ("main_random", R + n + ["--unlearn", "GA"], "main_forget.py"),
        ("main_random", R + n + ["--unlearn", "SalUn", "--path", str(b / "missing.pt")], "--mask_path"),
        # main_rum
        ("main_rum", R + n + ["--rum_methods", "FT,FT"], "--rum_methods"),
        ("main_rum", R + n + ["--variant", "sideways"], "--variant"),
        ("main_rum", R + n + ["--mem_proxy", "nothing"], "python -m memorization"),
        ("main_rum", R + n + ["--rum_lrs", "a,b,c"], "--rum_lrs"),
        # generate_mask
        ("generate_mask", R + n + ["--thresholds", "1.5"], "--thresholds"),
        ("generate_mask", R + n + ["--thresholds", "x"], "--thresholds"),
        ("generate_mask", R + n + ["--mask_dir", str(b / "a_file" / "m")], "--mask_dir"),
        # analysis
        ("analysis", ["--save_dir", str(b / "nowhere")], "main_forget.py"),
        ("analysis", [str(b / "corrupt.json")], "corrupt"),
        ("analysis_mia", [str(b / "missing.json")], "missing.json"),
        # python -m memorization
        ("memorization", ["estimate"] + R + ["--num_models", "0"], "--num_models"),
        ("memorization", ["estimate"] + R + ["--subset_ratio", "1.5"], "--subset_ratio"),
        ("memorization", ["estimate", "--save_dir", str(b / "empty")], "main_train.py"),
        ("memorization", ["proxy"] + R + ["--kind", "vibes"], "--kind"),
        ("memorization", ["merge"] + R, "shard"),
        ("memorization", ["bogus"], "bogus"),
    ]


def test_bad_input_matrix(base, capsys, monkeypatch):
    monkeypatch.chdir(base)
    failures = []
    for script, argv, needle in cases(base):
        before = snapshot(base)
        monkeypatch.setattr("sys.argv", [f"{script}.py"])
        module = importlib.import_module(SCRIPTS[script])
        try:
            module.main(argv)
            code = 0
        except SystemExit as e:
            code = e.code
        except Exception as e:  # a traceback would reach the user
            code = f"uncaught {type(e).__name__}: {e}"
        err = capsys.readouterr().err.strip()
        problems = []
        if code != 2:
            problems.append(f"exit {code}")
        if len(err.splitlines()) != 1 or "Traceback" in err:
            problems.append(f"stderr not one line: {err!r}")
        if needle not in err:
            problems.append(f"{needle!r} not named in {err!r}")
        if snapshot(base) != before:
            problems.append("files were created or changed")
        if problems:
            failures.append(f"{script} {' '.join(argv)}: {'; '.join(problems)}")
    assert not failures, "\n".join(failures)


def test_every_entry_script_is_in_the_matrix(base):
    covered = {c[0] for c in cases(base)}
    assert covered == set(SCRIPTS)
