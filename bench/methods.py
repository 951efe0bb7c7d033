"""Unlearning cost: every registered method's wall time divided by the retrain reference's, and
RUM's, all run in this process on digits through the library calls behind main_train.py,
main_forget.py, `python -m memorization proxy` and main_rum.py; plus each run's peak memory.

The reference is trained once by the first run (as main_forget caches it) and timed again at the
end (the `retrain` method is a fresh retrain); the ratio divides by the mean of the two, so a
change in the machine's load during the benchmark shows as their disagreement (`drift`)."""
import contextlib
import io
import statistics
import tempfile

import unlearn
from workflows import forget as pipeline
from workflows.config import train_config, unlearn_config
from workflows.train import train_original
from .common import PeakRSS


def _quiet(fn, *a):
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*a)


def train(save_dir, epochs):
    import main_train
    args = main_train.build_parser().parse_args(["--dataset", "digits", "--save_dir", save_dir,
                                                 "--epochs", str(epochs)])
    return train_original(train_config(args))


def forget(save_dir, method, n, epochs):
    import main_forget
    argv = ["--dataset", "digits", "--save_dir", save_dir, "--unlearn", method,
            "--num_indexes_to_replace", str(n)]
    if epochs is not None and method != "retrain":
        argv += ["--unlearn_epochs", str(epochs)]
    metrics, _ = pipeline.run_unlearning(unlearn_config(main_forget.build_parser().parse_args(argv)))
    return metrics


def rum(save_dir, n, epochs):
    import main_rum
    from memorization.__main__ import main as memorization_main
    _quiet(memorization_main, ["proxy", "--kind", "confidence", "--dataset", "digits", "--save_dir", save_dir])
    argv = ["--dataset", "digits", "--save_dir", save_dir, "--mem", "mix", "--mem_proxy", "confidence",
            "--num_indexes_to_replace", str(n)]
    if epochs is not None:
        argv += ["--rum_epochs", f"{epochs},{epochs},{epochs}"]
    from workflows.rum import run_rum
    metrics, _ = run_rum(main_rum.rum_config(main_rum.build_parser().parse_args(argv)))
    return metrics


def run(original_epochs=30, forget_n=120, method_epochs=None, rum_n=30, methods=None):
    """method_epochs=None: every method at its default strength (its registration's defaults)."""
    # `original` (the untouched model, a baseline row in tables) is not a method to time
    names = methods or [m for m in sorted(unlearn.METHODS) if m not in ("retrain", "original")]
    out = {"dataset": "digits", "original_epochs": original_epochs, "forget_set_size": forget_n,
           "method_epochs": method_epochs or "method defaults", "methods": {}}
    with tempfile.TemporaryDirectory() as tmp:
        with PeakRSS() as mem:
            _quiet(train, tmp, original_epochs)
        out["original"] = mem.record()
        reference = None
        for name in names:
            try:
                with PeakRSS() as mem:
                    m = _quiet(forget, tmp, name, forget_n, method_epochs)
            except Exception as e:  # one broken method must not hide the others' figures
                out["methods"][name] = {"error": f"{type(e).__name__}: {e}"}
                continue
            if reference is None:
                reference = m["reference"]["wall_time_s"]
            out["methods"][name] = {"seconds": round(m["wall_time_s"], 3), "rte_recorded": m["rte"],
                                    "diverged": m.get("diverged"), **mem.record()}
        with PeakRSS() as mem:
            again = _quiet(forget, tmp, "retrain", forget_n, None)
        out["methods"]["retrain"] = {"seconds": round(again["wall_time_s"], 3), **mem.record()}
        if reference is None:
            reference = again["reference"]["wall_time_s"]
        ref = statistics.mean([reference, again["wall_time_s"]])
        out["reference_seconds"] = {"first": round(reference, 3), "again": round(again["wall_time_s"], 3),
                                    "drift": round(again["wall_time_s"] / reference, 2)}
        for r in out["methods"].values():
            if "seconds" in r:
                r["ratio"] = round(r["seconds"] / ref, 3)
        try:
            with PeakRSS() as mem:
                m = _quiet(rum, tmp, rum_n, method_epochs)
            out["rum"] = {"method": m["method"], "forget_set": m["forget_set"]["name"],
                          "seconds": round(m["wall_time_s"], 3), "ratio": round(m["rte"], 3),
                          "reference_seconds": round(m["reference"]["wall_time_s"], 3),
                          "steps": [{"part": s["part"], "method": s["method"], "size": s["size"],
                                     "seconds": round(s["wall_time_s"], 3)} for s in m["steps"]],
                          **mem.record()}
        except (Exception, SystemExit) as e:  # SystemExit: a UserError from the memorization CLI
            out["rum"] = {"error": f"{type(e).__name__}: {e}"}
    return out
