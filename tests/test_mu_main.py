"""mu_main.py, the capstone's entry point: flag translation onto main_forget.py, ignored flags,
bad input (exit 2, one line, nothing written) and one end-to-end run on digits, in-process."""
import json

import pytest

import main_train
import mu_main
from conftest import run_folder
from evaluation.tow import tow

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# what main_train.py records for an original model (only the fields mu_main reads)
RUN = mu_main.RunFolder(config={"dataset": "digits", "data": None, "epochs": 7, "lr": 0.05, "batch_size": 64,
                                "momentum": 0.8, "weight_decay": 1e-4, "no_aug": True},
                        build={"arch": "cnn", "num_classes": 10})


def translate(*argv, run=RUN):
    args, given = mu_main.parse_args(["--saved_data_path", "runs/x", *argv])
    return mu_main.translate(args, given, run)


def flag(argv, name):
    """The value after `name` in a main_forget argv (None when the flag is absent)."""
    return argv[argv.index(name) + 1] if name in argv else None


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    save = tmp_path_factory.mktemp("mu_main") / "run"
    assert main_train.main(["--dataset", "digits", "--save_dir", str(save), "--epochs", "2"]) == 0
    return save


def run_main(capsys, *argv):
    """(exit code, stdout, stderr) of mu_main.main(argv)."""
    try:
        code = mu_main.main(list(map(str, argv)))
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("method,unlearn", [("retrain", "retrain"), ("neggrad", "GA"), ("salUN", "SalUn"),
                                            ("bad_teaching", "bad-teaching"), ("scrub", "SCRUB")])
def test_every_method_name_maps(method, unlearn):
    t = translate("--method", method)
    assert flag(t.argv, "--unlearn") == unlearn and flag(t.argv, "--save_dir") == "runs/x"
    assert flag(t.argv, "--dataset") == "digits"  # the run folder's data set
    assert flag(t.argv, "--num_indexes_to_replace") == "5000" and t.ignored == []
    assert "--tag" not in t.argv  # no add-on: the plain main_forget run folder


def test_the_capstone_default_method_is_salun():
    assert flag(translate().argv, "--unlearn") == "SalUn"


@pytest.mark.parametrize("mode", ["class_wise", "classwise"])
def test_class_wise_modes_forget_the_whole_class(mode):
    t = translate("--method", "bad_teaching", "--mode", mode, "--forget_class", "3", "--forget_num", "50")
    assert flag(t.argv, "--class_to_replace") == "3" and "--num_indexes_to_replace" not in t.argv
    assert any(i.startswith("--forget_num (class-wise") for i in t.ignored)


def test_epochs_lr_and_batch_size_per_method():
    t = translate("--method", "scrub", "--lr", "0.005", "--epoches", "2", "--unlearn_epochs", "9")
    assert (flag(t.argv, "--unlearn_lr"), flag(t.argv, "--unlearn_epochs"), flag(t.argv, "--batch_size")) == \
        ("0.005", "2", "256")
    assert t.ignored == ["--unlearn_epochs (scrub counts epochs with --epoches)"]
    t = translate("--method", "salUN", "--lr", "0.0013", "--epoches", "2", "--unlearn_epochs", "3",
                  "--mask_path", "m.pt")
    assert (flag(t.argv, "--unlearn_lr"), flag(t.argv, "--unlearn_epochs"), flag(t.argv, "--mask_path")) == \
        ("0.0013", "3", "m.pt")
    assert t.ignored == ["--epoches (salUN counts epochs with --unlearn_epochs)"]
    t = translate("--method", "neggrad", "--mask_path", "m.pt")
    assert "--mask_path" not in t.argv and t.ignored == ["--mask_path (only salUN reads it)"]


def test_retrain_uses_the_original_models_recipe():
    t = translate("--method", "retrain", "--lr", "0.005", "--epoches", "2", "--loss_weight", "0")
    assert (flag(t.argv, "--unlearn_epochs"), flag(t.argv, "--unlearn_lr"), flag(t.argv, "--batch_size"),
            flag(t.argv, "--momentum"), flag(t.argv, "--weight_decay")) == ("7", "0.05", "64", "0.8", "0.0001")
    assert "--no_aug" in t.argv
    assert [i.split()[0] for i in t.ignored] == ["--lr", "--epoches"]  # --loss_weight 0 asks for nothing


def test_ssl_mapping():
    t = translate("--method", "scrub", "--loss_weight", "0.5")
    assert (flag(t.argv, "--ssl"), flag(t.argv, "--ssl_weight"), flag(t.argv, "--tag")) == ("simple", "0.5", "ssl-simple")
    t = translate("--method", "bad_teaching", "--loss_weight", "0.5", "--supervised_mode", "original")
    assert (flag(t.argv, "--ssl"), flag(t.argv, "--ssl_weight")) == ("contrastive", "0.5")
    t = translate("--method", "scrub", "--loss_weight", "0", "--supervised_mode", "original")
    assert "--ssl" not in t.argv and t.ignored == ["--supervised_mode (--loss_weight 0: no SSL term)"]
    assert "--ssl" not in translate("--method", "scrub").argv  # no SSL term by default
    t = translate("--method", "neggrad", "--loss_weight", "0.5")
    assert "--ssl" not in t.argv and t.ignored[0].startswith("--loss_weight (the capstone's SSL term")


def test_augmentation_mapping_reads_aplr_as_arpl():
    t = translate("--method", "scrub", "--data_augment", "aplr", "--augment_num", "3000", "--loss_weight", "1")
    assert (flag(t.argv, "--augment_forget"), flag(t.argv, "--augment_count")) == ("arpl", "3000")
    assert flag(t.argv, "--tag") == "ssl-simple_aug-arpl"  # variants do not overwrite each other
    t = translate("--method", "scrub", "--data_augment", "simple")
    assert (flag(t.argv, "--augment_forget"), flag(t.argv, "--augment_count")) == ("simple", "500")
    t = translate("--method", "scrub", "--data_augment", "opengan", "--augment_num", "7")
    assert flag(t.argv, "--augment_forget") == "opengan" and "--augment_count" not in t.argv
    assert t.ignored == ["--augment_num (opengan makes one target per forget example)"]
    assert "--augment_forget" not in translate("--data_augment", "None").argv
    t = translate("--data_augment", "gan")
    assert "--augment_forget" not in t.argv and t.ignored[0].startswith("--data_augment gan (not simple")


def test_data_and_base_model():
    t = translate("--base_model", "cnn", "--data_name", "cifar10", "--data_root", "/d")
    assert (flag(t.argv, "--arch"), flag(t.argv, "--dataset"), flag(t.argv, "--data")) == ("cnn", "cifar10", "/d")
    t = translate("--base_model", "resnet18")
    assert "--arch" not in t.argv and t.ignored == ["--base_model resnet18 (the original model in runs/x is a cnn)"]
    assert "--dataset" not in translate(run=mu_main.RunFolder()).argv  # no run folder: main_forget says so


def test_ignored_flags_are_listed_in_the_order_given_by_the_table():
    t = translate("--optimizer", "Adam", "--num_worker", "6", "--teacher_path", "t.pth", "--unlearn_lr", "0.1")
    assert [i.split()[0] for i in t.ignored] == ["--num_worker", "--teacher_path", "--unlearn_lr", "--optimizer"]
    assert "--optimizer" not in t.argv and flag(t.argv, "--unlearn_lr") == "0.001"  # --lr's default, not 0.1


def test_bad_input_exits_2_with_one_line_and_writes_nothing(run_dir, capsys):
    before = sorted(p.relative_to(run_dir) for p in run_dir.rglob("*"))
    run = ("--saved_data_path", run_dir)
    cases = [(("--method", "forgetful", *run), "invalid choice: 'forgetful'"),
             (("--mode", "class-wise", *run), "invalid choice: 'class-wise'"),
             (("--mode", "classwise", "--forget_class", "-1", *run), "--forget_class must be 0..9"),
             (("--mode", "classwise", "--forget_class", "10", *run), "--forget_class must be 0..9"),
             (("--saved_data_path", ""), "--saved_data_path is empty"),
             (("--lr", "0", *run), "--lr must be"),
             (("--forget_num", "0", *run), "--forget_num"),
             (("--data_name", "stl10", *run), "--data_name stl10"),
             (("--method", "scrub", *run), "larger than"),  # the capstone's 5000 on 1,438 digits
             (("--method", "scrub", "--forget_num", "40", "--loss_weight", "0.5", *run), "simclr.py"),
             (("--method", "scrub", "--forget_num", "40", "--data_augment", "aplr", *run),
              "python -m unlearn.augment train --kind arpl"),
             (("--method", "scrub", "--data_augment", "simple", "--augment_num", "0", *run), "--augment_num")]
    for argv, needle in cases:
        code, out, err = run_main(capsys, *argv)
        assert code == 2, (argv, out, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert needle in err, (needle, err)
    assert sorted(p.relative_to(run_dir) for p in run_dir.rglob("*")) == before


def test_end_to_end_scrub_on_digits(run_dir, capsys):
    code, out, err = run_main(capsys, "--method", "scrub", "--mode", "random", "--forget_num", 40, "--epoches", 1,
                              "--saved_data_path", run_dir, "--num_worker", 6, "--optimizer", "Adam")
    assert code == 0, err
    assert err.strip().splitlines() == [
        "mu_main.py: ignored: --num_worker (batches are sliced from tensors on the device); --optimizer "
        "(always SGD, momentum 0.9, weight decay 5e-4: the capstone's default 'Adam' meant SGD too)"]
    assert out.startswith(f"main_forget.py --save_dir {run_dir} --unlearn SCRUB")
    m = json.loads((run_folder(run_dir, "SCRUB", "random_n40_s2") / "metrics.json").read_text())
    assert m["method"] == "SCRUB" and m["forget_set"]["size"] == 40
    assert m["config"]["unlearn_epochs"] == 1 and m["config"]["batch_size"] == 256
    assert m["tow"] == pytest.approx(tow(m["accuracy"], m["reference"]["accuracy"]), abs=1e-12)
    a = m["accuracy"]
    assert f"AccDf {a['forget']:.2f}  AccDr {a['retain']:.2f}  AccDt {a['test']:.2f}" in out
    assert f"Geo_metric {m['geo_metric']:.2f}" in out and f"confidence {m['mia']['confidence']:.3f}" in out


def test_retrain_reproduces_the_retrain_reference(run_dir, capsys):
    code, out, err = run_main(capsys, "--method", "retrain", "--forget_num", 40, "--lr", 0.005, "--epoches", 2,
                              "--saved_data_path", run_dir)
    assert code == 0, err
    assert err.startswith("mu_main.py: ignored: --lr (retrain trains with the original model's recipe); --epoches")
    m = json.loads((run_folder(run_dir, "retrain", "random_n40_s2") / "metrics.json").read_text())
    assert m["accuracy"] == m["reference"]["accuracy"] and m["tow"] == 1.0
