import json

import numpy as np
import pytest

from datasets import forget_sets as fs
from engine.errors import UserError
from engine.io import write_npz


TRAIN = np.arange(0, 100, 2)  # original indices of D (odd ones are "validation")


def test_group_split_is_disjoint_and_names_the_cuts_inside_ties():
    scores = np.array([0.9, 0.1, 0.5, 0.25, 0.95, 0.0, 0.75, 0.2])
    groups = fs.group_split(scores, (2, 2, 2), 0.5)
    assert groups.high.tolist() == [4, 0] and groups.low.tolist() == [5, 1]
    # mid: closest to 0.5 among the rest; 0.75 and 0.25 tie in distance and the order decides
    assert groups.mid.tolist() == [2, 6]
    assert groups.ties == {"mid": "mid: 1 of the 2 examples at distance 0.25 from the mid target 0.5 "
                                  "taken by position"}
    with pytest.raises(UserError, match="need 9 training examples and there are 8.*--allow_overlap"):
        fs.group_split(scores, (3, 3, 3), 0.5)
    overlapping = fs.group_split(scores, (3, 3, 3), 0.5, allow_overlap=True)  # mid from all: RUM's rule
    assert overlapping.mid.tolist() == [2, 6, 3] and 6 in overlapping.high


def test_memorization_set_groups_and_mix():
    scores = np.linspace(-0.2, 1.0, len(TRAIN))
    high = fs.memorization_set(TRAIN, scores, "high", 9, "heldout", middle=0.5)
    low = fs.memorization_set(TRAIN, scores, "low", 9, "heldout", middle=0.5)
    mid = fs.memorization_set(TRAIN, scores, "mid", 9, "heldout", middle=0.5)
    mix = fs.memorization_set(TRAIN, scores, "mix", 9, "heldout", middle=0.5)
    assert set(high.indices) == set(TRAIN[-9:]) and set(low.indices) == set(TRAIN[:9])
    mid_scores = scores[np.searchsorted(TRAIN, mid.indices)]
    assert np.all(np.abs(mid_scores - 0.5) <= np.sort(np.abs(scores - 0.5))[8] + 1e-12)
    assert "ties" not in mid.params  # distinct scores: nothing chosen by position
    # a mix of 9 is the union of the groups of 3 (RUM's steps forget exactly the mix set)
    thirds = [fs.memorization_set(TRAIN, scores, g, 3, "heldout", middle=0.5).indices for g in ("high", "mid", "low")]
    assert np.array_equal(mix.indices, np.concatenate(thirds))
    with pytest.raises(UserError, match="--mem"):
        fs.memorization_set(TRAIN, scores, "top", 9, "heldout", middle=0.5)
    with pytest.raises(UserError, match="larger than"):
        fs.memorization_set(TRAIN, scores, "high", 51, "heldout", middle=0.5)


def test_tied_scores_give_disjoint_groups_and_say_so():
    # digits-like scores: most exactly 0, few near the mid target 0.5
    scores = np.zeros(50)
    scores[:6] = [1.0, 0.9, 0.75, 0.6, 0.5, 0.45]
    groups = {g: fs.memorization_set(TRAIN, scores, g, 9, "heldout", middle=0.5) for g in ("high", "mid", "low", "mix")}
    high, mid, low = (set(groups[g].indices) for g in ("high", "mid", "low"))
    assert not high & mid and not mid & low and not high & low
    assert set(groups["high"].indices[:6]) == set(TRAIN[:6])  # the scores decide as far as they can
    assert groups["high"].params["ties"] == ["high: 3 of the 44 examples scoring 0 taken by position"]
    assert [t.split(":")[0] for t in groups["mid"].params["ties"]] == ["high", "mid", "low"]
    assert len(set(groups["mix"].indices)) == 9 and "ties" in groups["mix"].params
    with pytest.raises(UserError, match="--allow_overlap"):
        fs.memorization_set(TRAIN, scores, "high", 17, "heldout", middle=0.5)  # 3 x 17 > 50
    overlap = fs.memorization_set(TRAIN, scores, "mid", 17, "heldout", allow_overlap=True, middle=0.5)
    assert len(overlap.indices) == 17


def test_load_scores_orients_proxies_and_reads_published_format(tmp_path):
    write_npz(tmp_path / "conf.npz", index=TRAIN[::-1].copy(), score=np.arange(50.0)[::-1].copy(),
              memorization_sign=np.array(-1.0))
    oriented = fs.load_scores(tmp_path / "conf.npz", TRAIN)
    assert np.array_equal(oriented, -np.arange(50.0))  # high confidence = least memorized
    write_npz(tmp_path / "pub.npz", memorization=np.arange(100.0) / 100)
    assert np.allclose(fs.load_scores(tmp_path / "pub.npz", TRAIN), TRAIN / 100)
    # mid's target: 0.5 for 0/1-correctness memorization (published files too), else the median
    assert fs.natural_middle(tmp_path / "pub.npz") == 0.5 and fs.natural_middle(tmp_path / "conf.npz") is None
    for kind, middle in (("correctness", 0.5), ("logit", None)):
        write_npz(tmp_path / "held.npz", index=TRAIN, score=np.arange(50.0), score_kind=np.array(kind))
        assert fs.natural_middle(tmp_path / "held.npz") == middle
    assert fs.mid_target(np.array([0.0, 1.0, 5.0, np.nan])) == 1.0
    with pytest.raises(UserError, match="python -m memorization"):
        fs.load_scores(tmp_path / "missing.npz", TRAIN)
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    with pytest.raises(UserError, match="corrupt"):
        fs.load_scores(tmp_path / "bad.npz", TRAIN)


def test_random_and_class_sets():
    labels = (TRAIN // 2) % 5
    r1 = fs.random_set(TRAIN, labels, 10, seed=1)
    assert r1.indices.tolist() == fs.random_set(TRAIN, labels, 10, seed=1).indices.tolist()
    assert set(r1.indices) <= set(TRAIN) and len(set(r1.indices)) == 10
    c = fs.random_set(TRAIN, labels, None, seed=1, classes=[3])
    assert set(c.indices) == set(TRAIN[labels == 3]) and c.kind == "class"
    c4 = fs.random_set(TRAIN, labels, 4, seed=1, classes=[3])
    assert len(c4.indices) == 4 and set(c4.indices) <= set(c.indices)
    with pytest.raises(UserError, match="larger than"):
        fs.random_set(TRAIN, labels, 51, seed=1)
    with pytest.raises(UserError, match="--class_to_replace 7"):
        fs.random_set(TRAIN, labels, None, seed=1, classes=[7])


def test_es_set_slices():
    groups = [np.arange(g * 10, g * 10 + 10) for g in range(15)]
    assert fs.es_set(groups, 3, 4).indices.tolist() == [30, 31, 32, 33]
    mix = fs.es_set(groups, -1, 6)
    assert mix.indices.tolist() == [30, 31, 120, 121, 140, 141]
    with pytest.raises(UserError, match="--group_index 15"):
        fs.es_set(groups, 15, 4)


def test_file_set_checks(tmp_path):
    good = tmp_path / "f.json"
    good.write_text(json.dumps([0, 2, 4]))
    s = fs.file_set(good, TRAIN)
    assert s.indices.tolist() == [0, 2, 4] and s.name.startswith("file-")
    for content, needle in ((([0, 0, 2]), "duplicated"), (([1, 2]), "outside"), (([1000]), "outside"),
                            (([]), "empty")):
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps(content))
        with pytest.raises(UserError, match=needle):
            fs.file_set(bad, TRAIN)
    txt = tmp_path / "f.txt"
    txt.write_text("0, 2\n4")
    assert fs.file_set(txt, TRAIN).indices.tolist() == [0, 2, 4]
    with pytest.raises(UserError, match="not found"):
        fs.file_set(tmp_path / "none.txt", TRAIN)


def test_saved_forget_set_records_sha(tmp_path):
    s = fs.random_set(TRAIN, TRAIN % 3, 5, seed=0)
    path = fs.save_forget_set(tmp_path, s, "split")
    saved = json.loads(path.read_text())
    assert saved["sha256"] == s.sha256 and saved["indices"] == sorted(s.indices.tolist())
    assert path.name == f"{s.name}.json"
