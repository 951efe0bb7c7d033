import numpy as np
import pytest
import torch

from evaluation import attacks


def test_logit_confidence_is_log_odds():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    labels = torch.tensor([0, 2])
    p = torch.softmax(logits, 1).numpy()
    expected = [np.log(p[0, 0] / (1 - p[0, 0])), np.log(p[1, 2] / (1 - p[1, 2]))]
    assert attacks.logit_confidence(logits, labels).numpy() == pytest.approx(np.array(expected), rel=1e-5)
    stacked = attacks.logit_confidence(torch.stack([logits, 2 * logits]), labels[None])  # [models, N]
    assert stacked[0].numpy() == pytest.approx(np.array(expected), rel=1e-5) and stacked.shape == (2, len(labels))


def test_roc_summary_extremes():
    perfect = attacks.roc_summary(np.array([0.9, 0.8, 0.7]), np.array([0.1, 0.2, 0.3]))
    assert perfect["auc"] == 1.0 and perfect["tpr@0.01fpr"] == 1.0
    chance = attacks.roc_summary(np.array([0.5] * 10), np.array([0.5] * 10))
    assert chance["auc"] == 0.5


def test_lira_scores_follow_shadow_distributions():
    rng = np.random.RandomState(0)
    k, n = 64, 200
    in_mask = rng.rand(k, n) < 0.5
    phi = np.where(in_mask, 4.0, 0.0) + rng.randn(k, n) * 0.5  # members are far more confident
    member_target, nonmember_target = np.full(n, 4.0), np.full(n, 0.0)
    off_m = attacks.lira_offline_scores(member_target, phi, ~in_mask)
    off_n = attacks.lira_offline_scores(nonmember_target, phi, ~in_mask)
    assert attacks.roc_summary(off_m, off_n)["auc"] > 0.99
    on_m = attacks.lira_online_scores(member_target, phi, in_mask)
    on_n = attacks.lira_online_scores(nonmember_target, phi, in_mask)
    assert on_m.min() > 0 > on_n.max()
