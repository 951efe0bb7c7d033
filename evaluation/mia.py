"""RUM's SVC membership-inference attack, on softmax probabilities (docs/reference.md).

Shadow members are the first |test| retain examples (ascending original index), shadow
non-members the test set; the attack is then applied to the forget set. The score is the fraction
of forget examples classified as NON-members: higher means the forget set looks unseen.
"""
import numpy as np
import torch

from .accuracy import predict_logits

ATTACKS = ("correctness", "confidence", "entropy", "m_entropy", "prob")
TINY = 1e-30


def attack_features(probs, labels):
    """The five per-example features; m_entropy is Song & Mittal's (RUM's code weighted the
    classes wrongly; docs/deviations.md)."""
    p_y = probs.gather(1, labels[:, None]).squeeze(1)
    log_not_p = torch.log((1 - probs).clamp_min(TINY))
    others = torch.ones_like(probs).scatter_(1, labels[:, None], 0.0)
    m_entropy = -(1 - p_y) * torch.log(p_y.clamp_min(TINY)) - (others * probs * log_not_p).sum(1)
    feats = {
        "correctness": (probs.argmax(1) == labels).float()[:, None],
        "confidence": p_y[:, None],
        "entropy": -torch.special.xlogy(probs, probs).sum(1)[:, None],
        "m_entropy": m_entropy[:, None],
        "prob": probs,
    }
    return {k: v.double().cpu().numpy() for k, v in feats.items()}


def softmax_of(model, tset):
    return torch.softmax(predict_logits(model, tset), dim=1)


def shadow_members(retain, test):
    """RUM's shadow member set: the first |test| retain examples in ascending original index."""
    order = torch.argsort(retain.idx)[:len(test)]
    return retain.subset(order)


def svc_mia(model, retain, forget, test, seed=0):
    """{attack: fraction of forget examples predicted non-member}; NaN where it cannot be fit."""
    if len(forget) == 0 or len(test) == 0 or len(retain) == 0:
        return {k: float("nan") for k in ATTACKS}
    from sklearn.svm import SVC  # imported here: sklearn costs ~1 s of start-up for every script
    from sklearn.utils import shuffle as sk_shuffle
    members = shadow_members(retain, test)
    f_in = attack_features(softmax_of(model, members), members.y)
    f_out = attack_features(softmax_of(model, test), test.y)
    f_target = attack_features(softmax_of(model, forget), forget.y)
    result = {}
    for name in ATTACKS:
        x = np.concatenate([f_in[name], f_out[name]])
        y = np.concatenate([np.ones(len(f_in[name])), np.zeros(len(f_out[name]))])
        x, y = sk_shuffle(x, y, random_state=seed)
        clf = SVC(C=3, kernel="rbf", gamma="auto").fit(x, y)
        result[name] = float(1.0 - clf.predict(f_target[name]).mean())
    return result
