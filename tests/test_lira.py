"""LiRA with the heldout estimator's models as shadow models: against the original model the
forget examples look like members far more often than against the retrain reference."""
import json

from conftest import run_main


def test_lira_separates_original_from_retrain(tmp_path):
    common = ("--dataset", "synthetic", "--synth_n", "600", "--arch", "mlp", "--save_dir", tmp_path)
    proc = run_main("main_train.py", *common, "--epochs", "20")
    assert proc.returncode == 0, proc.stderr
    # the 0/1 score's high group (examples right only when trained on): a test of the attack, so
    # the group it attacks stays the one it was written for
    proc = run_main("memorization", "estimate", *common, "--num_models", "16", "--epochs", "10",
                    "--score", "correctness")
    assert proc.returncode == 0, proc.stderr
    proc = run_main("main_forget.py", *common, "--unlearn", "original", "--mem", "high",
                    "--num_indexes_to_replace", "40")
    assert proc.returncode == 0, proc.stderr
    m = json.loads(next((tmp_path / "unlearn").glob("original-*/*/*/metrics.json")).read_text())
    original, retrained = m["attacks"]["lira"], m["reference"]["attacks"]["lira"]
    # members at a low false-positive rate: LiRA's operating point
    assert original["tpr@0.01fpr"] > 0.5 > 0.2 > retrained["tpr@0.01fpr"], (original, retrained)
    assert original["auc"] > retrained["auc"] + 0.1, (original, retrained)
    assert 0 <= m["attacks"]["population_loss"]["auc"] <= 1
