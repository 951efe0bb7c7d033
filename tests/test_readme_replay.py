"""Both original READMEs, replayed: every command line, in order, in one folder (the placeholders
filled for digits and tiny sizes, tests/readme_commands.py), in-process. Each must exit 0 and
write what it should; RUM's and the capstone's runs record a ToW that their accuracies give."""
import json
import shlex

import pytest

import readme_commands as rc
from conftest import run_main
from evaluation.tow import tow


def replay(commands, folder, monkeypatch):
    monkeypatch.chdir(folder)
    for line, run, writes in commands:
        argv = shlex.split(run.removeprefix("setup: "))[1:]  # drop "python"
        script, args = (argv[1], argv[2:]) if argv[0] == "-m" else (argv[0], argv[1:])
        proc = run_main(script, *args)
        assert proc.returncode == 0, (line, run, proc.stdout[-800:], proc.stderr[-800:])
        found = sorted(folder.glob(writes))
        assert found, (line, run, writes)
        for path in (p for p in found if p.name == "metrics.json" and "unlearn" in p.parts):
            m = json.loads(path.read_text())
            assert m["tow"] == pytest.approx(tow(m["accuracy"], m["reference"]["accuracy"])), path


@pytest.mark.slow
def test_rums_readme_runs_as_written(tmp_path, monkeypatch):
    replay(rc.rum_commands(), tmp_path, monkeypatch)


@pytest.mark.slow
def test_the_capstones_readme_runs_as_written(tmp_path, monkeypatch):
    # the capstone's default --saved_data_path holds a trained digits run; an mlp's, as in RUM's
    # replay: the replay checks that every line runs and writes, and the cnn would triple its time
    proc = run_main("main_train.py", "--dataset", "digits", "--arch", "mlp", "--epochs", "2",
                    "--save_dir", tmp_path / "mu" / "saved_data")
    assert proc.returncode == 0, proc.stderr
    replay(rc.capstone_commands(), tmp_path, monkeypatch)
