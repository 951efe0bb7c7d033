"""analysis.py / analysis_mia.py on small fake metrics.json files, in-process: grouping, the
t-interval, RUM's selection flags as filters, results.csv, file names of filtered calls."""
import csv
import json

import numpy as np
import pytest
from scipy import stats

import analysis
import analysis_mia
from conftest import load_script
from evaluation import aggregate, report
from engine.config import freeze
from engine.io import sha256_of_indices
from unlearn import METHODS


def test_t_interval_matches_scipy():
    vals = [0.81, 0.86, 0.79, 0.90]
    mean, lo, hi = aggregate.t_interval(vals)
    sem = np.std(vals, ddof=1) / np.sqrt(4)
    ref = stats.t.interval(0.95, 3, loc=np.mean(vals), scale=sem)
    assert mean == pytest.approx(np.mean(vals)) and (lo, hi) == pytest.approx(ref)
    # by hand: t_{0.975, 3} = 3.182446
    assert hi - mean == pytest.approx(3.182446 * sem, rel=1e-5)
    assert aggregate.t_interval([0.5]) == (0.5, None, None)  # one seed: no interval


def fake_run(root, method, kind, params, seed, tow, diverged=None, forget=50.0, folder=None, size=10,
             config=None, forget_sha256=None, **top):
    """A metrics.json as main_forget.py writes it (the fields analysis reads); `folder` replaces
    the method folder so that runs can be told apart by path."""
    ref = {"forget": 60.0, "retain": 99.0, "val": 95.0, "test": 95.0}
    acc = {} if diverged else {"forget": forget, "retain": 98.0, "val": 94.0, "test": 94.0}
    mia = {} if diverged else {"confidence": 0.4, "entropy": 0.3}
    m = {"method": method, "config": {"unlearn": method, "seed": seed, "dataset": "digits", "arch": "cnn",
                                      "no_aug": False, "alpha": None, **(config or {})},
         "diverged": diverged,
         "forget_set": {"name": f"{kind}-{'-'.join(map(str, params.values()))}", "kind": kind, "size": size,
                        "params": params, **({"sha256": forget_sha256} if forget_sha256 else {})},
         "accuracy": acc, "mia": mia,
         "reference": {"accuracy": ref, "mia": {"confidence": 0.5, "entropy": 0.5}, "wall_time_s": 2.0},
         "tow": None if diverged else tow, "tow_mia": None if diverged else tow * 0.9,
         "wall_time_s": 1.0, "rte": 0.5, **top}
    path = root / "unlearn" / (folder or method) / m["forget_set"]["name"] / f"s{seed}" / "metrics.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(m))
    return path


HIGH = {"group": "high", "proxy": "heldout"}


def call(script, capsys, *argv):
    """(exit code, stdout, stderr) of an entry script's main, in-process."""
    try:
        code = script.main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_grouping_with_a_diverged_run(tmp_path):
    for seed, t in ((1, 0.8), (2, 0.9)):
        fake_run(tmp_path, "FT", "memorization", HIGH, seed, t)
    fake_run(tmp_path, "FT", "memorization", HIGH, 3, 0.0, diverged="loss became nan")
    fake_run(tmp_path, "FT", "memorization", {"group": "low", "proxy": "heldout"}, 1, 0.95)
    fake_run(tmp_path, "FT", "memorization", HIGH, 1, 0.5, folder="FT-n30", size=30)
    fake_run(tmp_path, "GA", "es", {"group_index": 3}, 1, 0.7)
    rows = aggregate.summarise(aggregate.load_runs([tmp_path / "unlearn"]), ["tow", "forget_gap"])
    by = {(r["method"], r["group"]): r for r in rows}
    high = by[("FT", "high n10 (heldout)")]
    assert high["n_seeds"] == 2 and high["n_diverged"] == 1
    assert high["tow"] == pytest.approx(0.85)  # the diverged run is not averaged in
    assert high["tow_ci"] == pytest.approx(stats.t.ppf(0.975, 1) * np.std([0.8, 0.9], ddof=1) / np.sqrt(2))
    assert high["forget_gap"] == pytest.approx(-10.0)
    assert by[("FT", "low n10 (heldout)")]["tow_ci"] is None
    assert by[("FT", "high n30 (heldout)")]["n_seeds"] == 1  # another size: not a seed of n10
    assert ("GA", "g3 n10") in by


def test_runs_differing_in_a_setting_are_two_groups(tmp_path):
    """--alpha 0.9 and the default are two settings, not four seeds of one; the seed's own paths
    (save folder, mask folder) do not split a group; --tag names its variant."""
    for root, alpha in ((tmp_path / "a", 0.99), (tmp_path / "b", 0.9)):
        for seed in (1, 2):
            fake_run(root, "NG", "memorization", HIGH, seed, 0.5 + alpha / 10 + seed / 100,
                     config={"alpha": alpha, "save_dir": str(root),
                             "mask_path": f"{root}/masks/s{seed}/mask_0.5.pt"})
    fake_run(tmp_path / "a", "NG", "memorization", HIGH, 1, 0.7, folder="NG-strong",
             config={"alpha": 0.99, "tag": "strong"})
    rows = aggregate.summarise(aggregate.load_runs([tmp_path / "a", tmp_path / "b"]), ["tow"])
    seeds = {r["method"]: r["n_seeds"] for r in rows}
    assert seeds == {"NG alpha=0.9": 2, "NG alpha=0.99": 2, "NG-strong": 1}
    assert next(r for r in rows if r["method"] == "NG alpha=0.9")["tow"] == pytest.approx(0.605)


@pytest.fixture(scope="module")
def varied(tmp_path_factory):
    """Runs that each differ from `base` in one recorded thing, named by their folder."""
    root = tmp_path_factory.mktemp("varied")
    ref = root / "retrain" / "k1"  # an unset --arch: the reference folder says what was used
    ref.mkdir(parents=True)
    (ref / "model.json").write_text(json.dumps({"build": {"arch": "mlp"}}))
    mem = ("memorization", HIGH)
    spec = {
        "base": ("FT", *mem, {}, {}),
        "synth": ("FT", *mem, {"dataset": "synthetic"}, {}),
        "mlp": ("FT", *mem, {"arch": None}, {"reference_dir": "/moved/away/retrain/k1"}),
        "noaug": ("FT", *mem, {"no_aug": True}, {}),
        "ng": ("NG", *mem, {}, {}),
        "vanilla": ("vanilla-NG", *mem, {"unlearn": "NG"}, {"variant": "vanilla"}),
        "rum": ("rum-none+FT+NG", *mem, {"unlearn": "FT"}, {"variant": "rum"}),
        "rl": ("RL", *mem, {}, {}),
        "mid": ("FT", "memorization", {"group": "mid", "proxy": "heldout"}, {}, {}),
        "conf": ("FT", "memorization", {"group": "high", "proxy": "confidence"}, {}, {}),
        "es3": ("FT", "es", {"group_index": 3}, {}, {}),
        "esmix": ("FT", "es", {"group_index": -1}, {}, {}),
        "class3": ("FT", "class", {"classes": [3]}, {}, {}),
        "class35": ("FT", "class", {"classes": [5, 3]}, {}, {}),
        "random": ("FT", "random", {"n": 10}, {}, {}),
        "n20": ("FT", *mem, {}, {"size": 20}),
        "step2": ("FT", *mem, {"requests": 2}, {}),
    }
    for name, (method, kind, params, config, extra) in spec.items():
        ref_dir = extra.pop("reference_dir", None)
        path = fake_run(root, method, kind, params, 1, 0.8, folder=name, config=config, **extra)
        if ref_dir:
            m = json.loads(path.read_text())
            m["reference"]["path"] = ref_dir
            path.write_text(json.dumps(m))
    return root, set(spec)


def kept(root, *argv):
    """The folder names of the runs the filters `argv` keep."""
    parser = report.build_parser("", analysis.TABLE, METHODS)
    args = freeze(parser.parse_args(["--save_dir", str(root), *argv]))
    runs, where = report.load(args)
    chosen = report.select(runs, report.given_filters(args), where)
    return {m["_path"].split("/unlearn/")[1].split("/")[0] for m in chosen}


MEMORIZATION_HIGH = {"base", "synth", "mlp", "noaug", "ng", "vanilla", "rum", "rl", "conf", "n20", "step2"}


@pytest.mark.parametrize("argv, expected", [
    (["--dataset", "synthetic"], {"synth"}),
    (["--arch", "mlp"], {"mlp"}),                       # the reference's model, not the typed --arch
    (["--no_aug"], {"base", "synth", "mlp", "noaug", "ng", "vanilla", "rum", "rl", "conf", "n20", "step2",
                    "mid", "es3", "esmix", "class3", "class35", "random"}),  # RUM's analysis ignored it: all runs
    (["--unlearn", "NegGrad+"], {"ng", "vanilla"}),     # alias; RUM's control of NG counts as NG
    (["--unlearn", "NG"], {"ng", "vanilla"}),
    (["--unlearn", "RL_og"], {"rl"}),
    (["--unlearn", "rum"], {"rum"}),
    (["--kind", "es"], {"es3", "esmix"}),
    (["--mem", "mid"], {"mid"}),
    (["--mem", "high"], MEMORIZATION_HIGH),
    (["--mem_proxy", "confidence"], {"conf"}),
    (["--group_index", "3"], {"es3"}),
    (["--group_index", "-1"], {"esmix"}),
    (["--class_to_replace", "3"], {"class3"}),
    (["--class_to_replace", "3,5"], {"class35"}),
    (["--num_indexes_to_replace", "20"], {"n20"}),
    (["--unlearn_step", "2"], {"step2"}),
    (["--unlearn", "NG", "--mem", "high", "--mem_proxy", "heldout", "--num_indexes_to_replace", "10"],
     {"ng", "vanilla"}),
])
def test_each_filter_keeps_exactly_its_runs(varied, argv, expected):
    root, _ = varied
    assert kept(root, *argv) == expected


def test_filters_that_select_by_absence(varied):
    root, every = varied
    assert kept(root) == every
    assert kept(root, "--arch", "cnn") == every - {"mlp"}
    assert kept(root, "--dataset", "digits") == every - {"synth"}
    assert kept(root, "--class_to_replace", "-1") == every - {"class3", "class35"}  # RUM: -1 = no class
    assert kept(root, "--unlearn", "FT") == every - {"ng", "vanilla", "rum", "rl"}


def test_nothing_matches_is_one_line_and_writes_nothing(varied, capsys):
    root, _ = varied
    code, out, err = call(analysis, capsys, "--save_dir", root, "--unlearn", "NG", "--mem", "low")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert "no runs match --unlearn NG --mem low" in err
    assert "--mem leaves none (those runs have: high)" in err
    assert "main_forget.py" not in err and "Traceback" not in err
    code, _, err = call(analysis_mia, capsys, "--save_dir", root, "--unlearn", "NGG")
    assert code == 2 and "(those runs have: FT, NG, RL, rum)" in err
    assert not (root / "analysis").exists()


def test_analysis_bad_input(tmp_path, capsys):
    code, _, err = call(analysis, capsys, "--save_dir", tmp_path)
    assert code == 2 and "main_forget.py" in err and len(err.strip().splitlines()) == 1
    code, _, err = call(analysis, capsys, "--save_dir", tmp_path, "--num_indexes_to_replace", "0")
    assert code == 2 and "--num_indexes_to_replace" in err and len(err.strip().splitlines()) == 1
    bad = tmp_path / "unlearn" / "x" / "metrics.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{oops")
    code, _, err = call(analysis_mia, capsys, "--save_dir", tmp_path)
    assert code == 2 and "corrupt" in err
    assert not (tmp_path / "analysis").exists()


def test_results_csv_has_rums_columns_and_the_t_interval(tmp_path, capsys):
    tows, forgets = [0.80, 0.85, 0.93], [40.0, 50.0, 45.0]
    for seed, (t, f) in enumerate(zip(tows, forgets), 1):
        fake_run(tmp_path, "NG", "memorization", HIGH, seed, t, forget=f)
    fake_run(tmp_path, "NG", "memorization", {"group": "low", "proxy": "heldout"}, 1, 0.9)
    assert call(analysis, capsys, "--save_dir", tmp_path)[0] == 0
    assert call(analysis_mia, capsys, "--save_dir", tmp_path)[0] == 0
    out = tmp_path / "analysis"
    with open(out / "results.csv", newline="") as f:
        header = next(csv.reader(f))
    assert header == ["method", "kind", "group", "tow", "tow_ci_margin", "tow_ci_lower", "tow_ci_upper",
                      "retain", "retain_ci", "forget", "forget_ci", "test", "test_ci", "val", "val_ci",
                      "MIA_confidence", "MIA_confidence_ci", "n", "n_diverged"]
    rows = {r["group"]: r for r in read_csv(out / "results.csv")}
    high, sem = rows["high n10 (heldout)"], np.std(tows, ddof=1) / np.sqrt(3)
    lower, upper = stats.t.interval(0.95, 2, loc=np.mean(tows), scale=sem)
    assert float(high["tow"]) == pytest.approx(np.mean(tows)) and high["n"] == "3"
    assert (float(high["tow_ci_lower"]), float(high["tow_ci_upper"])) == pytest.approx((lower, upper))
    assert float(high["tow_ci_margin"]) == pytest.approx(stats.t.ppf(0.975, 2) * sem)
    forget_sem = np.std(forgets, ddof=1) / np.sqrt(3)
    assert float(high["forget_ci"]) == pytest.approx(stats.t.ppf(0.975, 2) * forget_sem)
    assert float(high["MIA_confidence"]) == pytest.approx(0.4)
    assert float(high["MIA_confidence_ci"]) == pytest.approx(0, abs=1e-9)
    low = rows["low n10 (heldout)"]
    assert low["tow_ci_margin"] == low["tow_ci_lower"] == "" and low["n"] == "1"  # one seed: no interval
    assert "results_mia.csv" in call(analysis_mia, capsys, "--help")[1]  # --help names the file
    mia = read_csv(out / "results_mia.csv")  # analysis_mia.py's own file: results.csv is untouched
    assert list(mia[0])[3:7] == ["tow_mia", "tow_mia_ci_margin", "tow_mia_ci_lower", "tow_mia_ci_upper"]
    assert "tow" in read_csv(out / "results.csv")[0]


def test_a_filtered_call_keeps_the_full_tables(tmp_path, capsys):
    for seed in (1, 2):
        for g in ("low", "mid", "high"):
            fake_run(tmp_path, "FT", "memorization", {"group": g, "proxy": "heldout"}, seed, 0.8 + seed / 100)
            fake_run(tmp_path, "NG", "memorization", {"group": g, "proxy": "heldout"}, seed, 0.7 + seed / 50)
    fake_run(tmp_path, "FT", "memorization", HIGH, 3, 0, diverged="nan")
    es = fake_run(tmp_path, "FT", "es", {"group_index": 3}, 1, 0.6)
    out = tmp_path / "analysis"
    code, stdout, _ = call(analysis, capsys, "--save_dir", tmp_path)
    assert code == 0 and "+1 diverged" in (out / "tow.md").read_text()
    full = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()}
    assert set(full) == {"tow.csv", "tow.md", "results.csv", "tow_by_memorization.png", "tow_by_es.png"}
    assert (out / "tow_by_memorization.png").stat().st_size > 1000

    code, stdout, _ = call(analysis, capsys, "--save_dir", tmp_path, "--unlearn", "NegGrad+",
                           "--mem_proxy", "heldout")
    assert code == 0 and "6 of 14 runs match --unlearn NG --mem_proxy heldout" in stdout
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir() if p.name in full} == full
    made = {p.name for p in out.iterdir()} - set(full)
    slug = "unlearn=NG.mem_proxy=heldout"
    assert made == {f"tow.{slug}.csv", f"tow.{slug}.md", f"results.{slug}.csv",
                    f"tow_by_memorization.{slug}.png"}
    assert all(name in stdout for name in made)
    assert {r["method"] for r in read_csv(out / f"tow.{slug}.csv")} == {"NG"}

    es.unlink()  # no ES run any more: the ES figure of the earlier call must not look current
    code, stdout, _ = call(analysis, capsys, "--save_dir", tmp_path)
    assert code == 0 and not (out / "tow_by_es.png").exists() and "removed the stale" in stdout
    code, _, _ = call(analysis_mia, capsys, "--save_dir", tmp_path, "--mem", "high")
    assert code == 0 and (out / "tow_mia.mem=high.csv").read_text().startswith("method,kind,group,n_seeds")
    assert (out / "results_mia.mem=high.csv").is_file()
    assert (out / "tow_mia_by_memorization.mem=high.png").is_file()


def test_slug_is_a_safe_file_name():
    assert report.slug([("no_aug", True), ("class_to_replace", (3, 5)), ("group_index", -1)]) == \
        "no_aug.class_to_replace=3-5.group_index=-1"
    long = report.slug([("dataset", "x" * 300)])
    assert len(long) <= 120 and "/" not in long


def test_original_comes_first_and_methods_inside_its_interval_are_flagged(tmp_path, capsys):
    """A method whose forget accuracy and ToW both lie inside `original`'s 95% t-interval on the
    same forget set did nothing measurable: flagged; one that moves forget accuracy is not."""
    for seed, (forget, tow) in enumerate(((60.0, 0.80), (62.0, 0.82), (61.0, 0.79)), 1):
        fake_run(tmp_path, "original", "memorization", HIGH, seed, tow, forget=forget)
        fake_run(tmp_path, "FT", "memorization", HIGH, seed, tow, forget=forget)
        fake_run(tmp_path, "GA", "memorization", HIGH, seed, tow, forget=forget - 30)
    fake_run(tmp_path, "NG", "memorization", {"group": "low", "proxy": "heldout"}, 1, 0.8, forget=61.0)
    assert call(analysis, capsys, "--save_dir", tmp_path)[0] == 0
    rows = read_csv(tmp_path / "analysis" / "tow.csv")
    assert rows[0]["method"] == "original"
    assert {r["method"]: r["no_effect"] for r in rows} == {"original": "False", "FT": "True", "GA": "False",
                                                          "NG": "False"}  # NG: no original on its set
    markdown = (tmp_path / "analysis" / "tow.md").read_text()
    assert f"| FT {aggregate.NO_EFFECT_MARK} |" in markdown and "| GA |" in markdown
    assert markdown.rstrip().endswith(aggregate.NO_EFFECT_NOTE)


def test_capstone_table_puts_original_first_and_flags_no_effect(tmp_path):
    from evaluation import capstone_report
    for seed, (forget, tow) in enumerate(((60.0, 0.80), (62.0, 0.82)), 1):
        for method, shift in (("SCRUB", -30), ("GA", 0), ("original", 0)):
            fake_run(tmp_path, method, "random", {"n": 10}, seed, tow, forget=forget + shift)
    text = capstone_report.table(capstone_report.summarise(aggregate.load_runs([tmp_path])), "random")
    methods = [line.split(" | ")[0][2:] for line in text.splitlines()[2:5]]
    assert methods == ["original", "SCRUB", f"GA {aggregate.NO_EFFECT_MARK}"]
    assert text.endswith(aggregate.NO_EFFECT_NOTE)


def test_rum_table_has_the_original_rows_and_names_the_plan_of_its_runs(tmp_path):
    rum_table = load_script("rum_table")
    mix = {"group": "mix", "proxy": "heldout"}
    for seed, tow in ((1, 0.80), (2, 0.81)):
        for part in rum_table.PARTS:
            group = {"group": part, "proxy": "heldout"}
            fake_run(tmp_path, "original", "memorization", group, seed, tow + 0.1)
            fake_run(tmp_path, "FT", "memorization", group, seed, tow)
        fake_run(tmp_path, "original", "memorization", mix, seed, tow)
        for variant, shift in (("vanilla", 0), ("shuffle", 0.1), ("rumf", 0.1)):
            fake_run(tmp_path, f"{variant}-FT", "memorization", mix, seed, tow + shift,
                     config={"unlearn": "FT"}, variant=variant)
        fake_run(tmp_path, "rum-none+FT+RL", "memorization", mix, seed, tow + 0.05, variant="rum",
                 config={"rum_methods": "none,FT,RL", "rum_lrs": "default,0.1,0.03", "rum_alphas": None})
    text = rum_table.table(tmp_path, "heldout", "t", figures=tmp_path / "figures")
    assert "| original | 0.805 ± 0.064 | — | — | — |" in text
    assert f"| FT | 0.805 ± 0.064 {aggregate.NO_EFFECT_MARK} | 0.905 ± 0.064 |" in text
    assert "low: **none**, mid: **FT** (unlearn_lr 0.1), high: **RL** (unlearn_lr 0.03)): ToW 0.855" in text
    assert text.count(aggregate.NO_EFFECT_NOTE) == 2
    fake_run(tmp_path, "rum-FT+FT+FT", "memorization", mix, 1, 0.8, variant="rum", config={"rum_methods": "FT,FT,FT"})
    with pytest.raises(SystemExit, match="several full RUM plans"):
        rum_table.table(tmp_path, "heldout", "t")
    assert "| FT | 0.805 ± 0.064 ∅ | 0.905 ± 0.064 | 0.905 ± 0.064 | +0.100 [+0.100, +0.100] |" in text
    assert "RUM^F − Vanilla, paired by seed: interval above 0 for FT;" in text
    assert "RUM^F − Shuffle, paired by seed: interval above 0 for none; below 0 for none; holding 0 for FT." in text
    for name in ("groups", "variants"):
        assert f"(figures/rum_t_{name}.png)" in text and (tmp_path / "figures" / f"rum_t_{name}.png").is_file()


def test_rum_verdict_pairs_by_seed_and_follows_its_rule(tmp_path):
    """Full RUM against the best Vanilla, Shuffle and RUM^F, paired by seed: seed effects far larger
    than the difference, which the pairing still finds."""
    rum_table = load_script("rum_table")
    mix = {"group": "mix", "proxy": "heldout"}
    for seed in (1, 2, 3):
        base = 0.5 + 0.1 * seed
        for variant, shift in (("vanilla", 0.0), ("shuffle", 0.01), ("rumf", 0.05)):
            fake_run(tmp_path, f"{variant}-NG", "memorization", mix, seed, base + shift + 0.001 * (seed % 2),
                     config={"unlearn": "NG"}, variant=variant)
        fake_run(tmp_path, "rum-NG+NG+NG", "memorization", mix, seed, base + 0.05 + 0.002 * seed, variant="rum")
    runs = rum_table.load(tmp_path)
    diff = aggregate.paired_tow(runs, "rum-NG+NG+NG", "vanilla-NG")
    assert diff[3] == 3 and diff[1] > 0 and aggregate.side_of_zero(diff) == "above"
    comparisons = {"the best Vanilla": diff, "the best Shuffle": aggregate.paired_tow(runs, "rum-NG+NG+NG", "shuffle-NG"),
                   "the best RUM^F": aggregate.paired_tow(runs, "rum-NG+NG+NG", "rumf-NG")}
    assert "earns its place" in rum_table.verdict(comparisons)
    comparisons["the best Shuffle"] = aggregate.paired_tow(runs, "vanilla-NG", "shuffle-NG")  # below 0
    assert "does not earn its place here** (not above the best Shuffle)" in rum_table.verdict(comparisons)


ES_OF_GROUP = {3: 1.2, 12: 4.5, 14: 30.0}


def fake_es_sweep(root):
    """es_groups.json for groups 3, 12, 14 (10 indices each) and five seeds of `original` and FT on
    them, FT's ToW falling as ES rises (plus noise); one FT run on another forget set (n30)."""
    groups = [{"group": g, "size": 10, "es": es, "indices": list(range(10 * g, 10 * g + 10))}
              for g, es in ES_OF_GROUP.items()]
    (root / "memorization").mkdir(parents=True)
    (root / "memorization" / "es_groups.json").write_text(json.dumps({"groups": groups}))
    noise = np.random.default_rng(0).normal(0, 0.02, size=(5, 3))
    for seed in range(1, 6):
        for i, g in enumerate(groups):
            params, sha = {"group_index": g["group"], "n": 10}, sha256_of_indices(g["indices"])
            fake_run(root, "original", "es", params, seed, 0.5 + noise[seed - 1, i], forget=99.0, forget_sha256=sha)
            fake_run(root, "FT", "es", params, seed, 0.95 - 0.2 * i + noise[seed - 1, i], forget_sha256=sha)
    fake_run(root, "FT", "es", {"group_index": 3, "n": 30}, 1, 0.9, folder="FT-n30", size=30,
             forget_sha256=sha256_of_indices(range(30)))


def test_es_table_finds_tow_falling_as_es_rises(tmp_path, capsys):
    es_table = load_script("es_table")
    fake_es_sweep(tmp_path)
    results = tmp_path / "docs" / "results.md"
    results.parent.mkdir()
    results.write_text("# Results\n\n## Other\n\nkept\n")
    code, out, err = call(es_table, capsys, "--save_dir", tmp_path, "--results", results)
    assert code == 0, err
    folder = tmp_path / "es_results"
    summary = json.loads((folder / "es.json").read_text())
    trend = {c["method"]: c for c in summary["correlations"]}
    ft = trend["FT"]
    assert ft["spearman"] < 0 and ft["upper"] < 0 and ft["verdict"] == "ToW falls as ES rises"
    assert ft["runs"] == 15 and ft["seeds"] == 5 and summary["left_out"] == 1  # the n30 run
    assert list(trend)[0] == "original" and es_table.POOLED in trend
    text = (folder / "es.md").read_text()
    sentence = next(line for line in text.splitlines() if line.startswith("In plain words"))
    assert f"pooled over the methods: {trend[es_table.POOLED]['verdict']} (" in sentence
    assert "ToW falls for FT" in sentence and sentence.count("This agrees with the paper.") == \
        (trend[es_table.POOLED]["verdict"] == "ToW falls as ES rises")
    for g, es in ES_OF_GROUP.items():
        table = text.split(f"#### g{g} n10: ES {es:.4g}")[1].splitlines()
        assert table[4].startswith("| original | 5 | 99.00 ± 0.00 |")  # heading, blank, head, rule, original
    assert (folder / "tow_vs_es.png").read_bytes()[:4] == b"\x89PNG"
    assert len(read_csv(folder / "es.csv")) == 6
    doc = results.read_text()
    assert "## Other\n\nkept" in doc and "## Entanglement (ES) experiment" in doc and "### digits" in doc
    assert (results.parent / "figures" / "es_tow_vs_es_digits.png").is_file()
    # a second data set gets its own heading; the first one's stays
    es_table.write_docs(results, "synthetic", "synthetic body")
    es_table.write_docs(results, "synthetic", "synthetic body")
    doc = results.read_text()
    assert doc.count("### digits") == 1 and doc.count("synthetic body") == 1 and doc.count("## Entanglement") == 1


@pytest.mark.parametrize("low, high, verdict", [
    (-0.9, -0.1, "ToW falls as ES rises"), (0.1, 0.8, "ToW rises as ES rises"),
    (-0.5, 0.3, "no clear trend"), (None, None, "no clear trend (no interval: fewer than 4 runs)")])
def test_es_verdict_rule(low, high, verdict):
    assert load_script("es_table").verdict(low, high) == verdict


def test_es_table_without_es_groups_is_one_line(tmp_path, capsys):
    fake_run(tmp_path, "FT", "es", {"group_index": 3, "n": 10}, 1, 0.9)
    code, out, err = call(load_script("es_table"), capsys, "--save_dir", tmp_path)
    assert code == 2 and "python -m memorization es" in err and len(err.strip().splitlines()) == 1


def test_spearman_interval_is_fisher_z_with_the_bonett_wright_error():
    xs, ys = [1, 1, 2, 2, 3, 3, 4], [0.9, 0.8, 0.85, 0.6, 0.5, 0.55, 0.2]
    rho, low, high = aggregate.spearman_interval(xs, ys)
    assert rho == pytest.approx(stats.spearmanr(xs, ys).statistic)
    half = 1.959964 * np.sqrt((1 + rho ** 2 / 2) / 4)
    assert (low, high) == pytest.approx((np.tanh(np.arctanh(rho) - half), np.tanh(np.arctanh(rho) + half)))
    assert aggregate.spearman_interval(xs, [0.5] * 7) == (None, None, None)  # flat ToW: no correlation
    assert aggregate.spearman_interval(xs[:3], ys[:3])[1:] == (None, None)


# per score: (wall_time_s, wall_time_scope, raw Spearman with heldout, sign, RUM^F − Vanilla per seed 1..3)
PROXY_SCORES = {"heldout": (100.0, None, None, 1, (0.05, 0.06, 0.05)),
                "confidence": (0.01, "events", -0.6, -1, (0.05, 0.04, 0.06)),
                "ho_ret": (20.0, "weights", 0.3, 1, (0.05, -0.05, 0.0))}


def fake_proxy_experiment(save):
    """One data set's folder as scripts/proxy_experiment.sh leaves it: score files with their
    times, the report's correlations, and per score `original`, Vanilla and RUM^F (NG) on its mix
    set and `original` / NG on its low, mid, high groups, seeds 1..3 (RUM^F also on seed 4)."""
    memorization = save / "memorization"
    (memorization / "report").mkdir(parents=True)
    (save / "original").mkdir()
    (save / "original" / "metrics.json").write_text(json.dumps({"wall_time_s": 22.0, "val_history": []}))
    rows = ["proxy,n,spearman,pearson,memorization_sign"]
    for score, (seconds, scope, rho, sign, gains) in PROXY_SCORES.items():
        (memorization / f"{score}.npz").write_bytes(b"")
        (memorization / f"{score}.json").write_text(json.dumps({"wall_time_s": seconds, "wall_time_scope": scope}))
        if rho is not None:
            rows.append(f"{score},100,{rho},{rho},{sign}")
        mix = {"group": "mix", "proxy": score}
        for seed, gain in enumerate(gains, 1):
            vanilla = 0.80 + 0.01 * seed
            fake_run(save, "original", "memorization", mix, seed, 0.70 + 0.01 * seed, forget=100.0)
            fake_run(save, "vanilla-NG", "memorization", mix, seed, vanilla, config={"unlearn": "NG"}, variant="vanilla")
            fake_run(save, "rumf-NG", "memorization", mix, seed, vanilla + gain, config={"unlearn": "NG"}, variant="rumf")
            for part, forget in (("low", 90.0), ("mid", 70.0), ("high", 40.0)):
                group = {"group": part, "proxy": score}
                fake_run(save, "original", "memorization", group, seed, 0.7, forget=100.0 - seed)
                fake_run(save, "NG", "memorization", group, seed, 0.8, forget=forget + seed)
        # a seed Vanilla never finished: not part of the paired difference
        fake_run(save, "rumf-NG", "memorization", mix, 4, 0.2, config={"unlearn": "NG"}, variant="rumf")
    (memorization / "report" / "correlations.csv").write_text("\n".join(rows) + "\n")
    return save


def test_proxy_table_pairs_seeds_and_says_which_proxy_keeps_rums_gain(tmp_path):
    proxy_table = load_script("proxy_table")
    save = fake_proxy_experiment(tmp_path / "runs" / "digits")
    runs = proxy_table.runs_by_score(save)
    gain = aggregate.paired_tow(runs["confidence"], "rumf-NG", "vanilla-NG")
    assert gain[3] == 3 and gain[0] == pytest.approx(0.05)
    results = tmp_path / "results.md"
    text = proxy_table.write_section(proxy_table.dataset_folders(tmp_path / "runs"), results, "cmd", 60.0)
    lines = text.splitlines()
    confidence = lines.index(next(line for line in lines if line.startswith("| confidence |")))
    # Spearman oriented (sign × raw); cost and its ratio to the heldout estimate's; original first
    assert lines[confidence].startswith("| confidence | +0.600 | 0.01 \\* | 1.0e-04 | original | 0.720 ± ")
    # RUM^F's own cell has all four seeds; its difference from Vanilla only the three both ran
    assert lines[confidence + 1] == ("|  |  |  |  | NG | 0.703 ± 0.534 | 0.820 ± 0.025 | +0.050 ± 0.025 (3 seeds) | "
                                     "92.0 ± 2.5 | 72.0 ± 2.5 | 42.0 ± 2.5 | keeps RUM's gain |")
    assert "the reference: RUM^F beats Vanilla |" in text and "| loses it (no gain established) |" in text
    assert "Yes, kept by confidence (cost 1.0e-04× the heldout estimate's); ho_ret loses it" in text
    assert "\\* confidence: the time to average the learning events" in text and "(22 s)" in text
    assert text.count(aggregate.NO_EFFECT_NOTE) == 1 and "60 s wall time" in text
    assert (tmp_path / "figures" / "proxy_digits.png").stat().st_size > 0


@pytest.mark.parametrize("low, high, expected", [(0.01, 0.09, "gain"), (-0.02, 0.04, "none"),
                                                 (-0.09, -0.01, "loss"), (None, None, None)])
def test_proxy_gain_is_judged_by_its_paired_interval(low, high, expected):
    proxy_table = load_script("proxy_table")
    state = proxy_table.gain_state((0.05, low, high, 3))
    assert state == expected
    assert proxy_table.verdict("curvature", state, "gain") == \
        {"gain": "keeps RUM's gain", "none": "loses it (no gain established)",
         "loss": "reverses it (RUM^F below Vanilla)", None: proxy_table.UNDECIDED}[expected]


def test_proxy_section_replaces_only_its_own(tmp_path, capsys):
    proxy_table = load_script("proxy_table")
    save = fake_proxy_experiment(tmp_path / "digits")
    results = save / "results.md"
    results.write_text("# Results\n\n## RUM experiment\n\nkept\n\n## Proxy experiment\n\nstale\n\n## Later\n\nalso kept\n")
    for _ in range(2):  # again over its own output: still one section
        proxy_table.main(["--save_dir", str(save)])
    text = results.read_text()
    assert "stale" not in text and text.count("## Proxy experiment") == 1 and text.count("### digits") == 1
    assert text.index("kept") < text.index("## Proxy experiment") < text.index("## Later\n\nalso kept")
    assert f"Command: `scripts/proxy_table.py --save_dir {save}`" in text
    assert capsys.readouterr().out.rstrip().endswith(f"-> {results}")


def test_proxy_table_warns_where_vanilla_did_nothing():
    proxy_table = load_script("proxy_table")
    rows = {"heldout": [{"method": "vanilla-NG", "no_effect": True}, {"method": "rumf-NG", "no_effect": False}],
            "ho_ret": [{"method": "vanilla-NG", "no_effect": False}]}
    note = proxy_table.idle_vanilla_note("NG", rows)
    assert "on the `mix` set of 1 of 2 scores (heldout)" in note and "Shuffle" in note
    assert proxy_table.idle_vanilla_note("NG", {"ho_ret": rows["ho_ret"]}) is None
