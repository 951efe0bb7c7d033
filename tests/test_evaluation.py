import math

import numpy as np
import pytest
import torch

from datasets.base import TensorSet
from evaluation import svc_mia, tow, tow_mia
from evaluation.mia import attack_features, shadow_members


def test_tow_is_one_for_identical_and_matches_hand_computation():
    ref = {"forget": 80.0, "retain": 99.0, "test": 95.0, "val": 94.0}
    assert tow(ref, ref) == 1.0
    acc = {"forget": 90.0, "retain": 97.0, "test": 96.0, "val": 10.0}
    by_hand = (1 - 10 / 100) * (1 - 2 / 100) * (1 - 1 / 100)  # val is not part of ToW
    assert tow(acc, ref) == pytest.approx(by_hand)
    mia, ref_mia = {"confidence": 0.30}, {"confidence": 0.55}
    assert tow_mia(acc, mia, ref, ref_mia) == pytest.approx((1 - 0.25) * 0.98 * 0.99)
    assert tow_mia(ref, ref_mia, ref, ref_mia) == 1.0


def test_attack_features_by_hand():
    p = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3]])
    y = torch.tensor([0, 2])
    f = attack_features(p, y)
    assert f["correctness"][:, 0].tolist() == [1.0, 0.0]
    assert f["confidence"][:, 0] == pytest.approx([0.7, 0.3])
    ent = -(0.7 * math.log(0.7) + 0.2 * math.log(0.2) + 0.1 * math.log(0.1))
    assert f["entropy"][0, 0] == pytest.approx(ent)
    # Song & Mittal: -(1-p_y) log p_y - sum_{c != y} p_c log(1 - p_c)
    m0 = -(0.3 * math.log(0.7)) - (0.2 * math.log(0.8) + 0.1 * math.log(0.9))
    m1 = -(0.7 * math.log(0.3)) - (0.1 * math.log(0.9) + 0.6 * math.log(0.4))
    assert f["m_entropy"][:, 0] == pytest.approx([m0, m1])
    assert f["prob"].shape == (2, 3)


class Lookup(torch.nn.Module):
    """A 'model' whose prediction is a fixed function of the example (first pixel encodes it)."""

    def __init__(self, confident_ids, num_classes=3):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.confident = confident_ids
        self.fc = torch.nn.Linear(1, num_classes)

    def forward(self, x):
        ids = x[:, 0, 0, 0].round().long()
        label = x[:, 0, 0, 1].round().long()
        conf = torch.isin(ids, self.confident).float()
        logits = torch.zeros(len(x), 3)
        logits[torch.arange(len(x)), label] = 1 + 5 * conf  # members: very confident
        return logits + 0 * self.w


def make_set(ids, labels):
    x = torch.zeros(len(ids), 1, 2, 2)
    x[:, 0, 0, 0] = torch.as_tensor(ids, dtype=torch.float)
    x[:, 0, 0, 1] = torch.as_tensor(labels, dtype=torch.float)
    return TensorSet(x, torch.as_tensor(labels), torch.as_tensor(ids))


def test_svc_mia_separates_members_from_non_members():
    rng = np.random.RandomState(0)
    retain = make_set(range(0, 200), rng.randint(0, 3, 200))
    test = make_set(range(1000, 1100), rng.randint(0, 3, 100))
    forget_seen = make_set(range(500, 550), rng.randint(0, 3, 50))
    members = torch.tensor(list(range(0, 200)) + list(range(500, 550)))
    model = Lookup(members)
    assert len(shadow_members(retain, test)) == len(test)
    mia_seen = svc_mia(model, retain, forget_seen, test)
    assert mia_seen["confidence"] < 0.1  # forget examples still look like members
    model_forgot = Lookup(torch.arange(0, 200))
    mia_forgot = svc_mia(model_forgot, retain, forget_seen, test)
    assert mia_forgot["confidence"] > 0.9  # after unlearning they look unseen
    assert svc_mia(model, retain, forget_seen, test) == mia_seen  # deterministic
