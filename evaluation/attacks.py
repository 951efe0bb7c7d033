"""Membership-inference attacks stronger than RUM's SVC attack, reported as ROC AUC and TPR at
1% and 0.1% FPR for "forget example = member" against held-out examples (non-members).

- population loss attack: a logistic regression on the per-example loss, cross-validated, as in
  the NeurIPS 2023 unlearning challenge's kit;
- per-example likelihood-ratio attack (LiRA, Carlini et al. 2022) with the heldout estimator's
  models as shadow models: for every example, the distribution of the logit-scaled confidence
  of the shadow models that did NOT train on it (offline LiRA) — and, for training examples,
  of those that did (online LiRA, forget examples only).
"""
import numpy as np
import torch

from .accuracy import predict_logits

FPRS = (0.01, 0.001)
MIN_STD = 1e-3


def roc_summary(member_scores, nonmember_scores):
    """AUC and TPR at fixed low FPRs (higher score = more member-like)."""
    from sklearn.metrics import roc_auc_score, roc_curve
    member_scores = np.asarray(member_scores, dtype=float)
    nonmember_scores = np.asarray(nonmember_scores, dtype=float)
    # an example no shadow model left out has no OUT distribution: it is not scored (counted)
    member_scores = member_scores[np.isfinite(member_scores)]
    nonmember_scores = nonmember_scores[np.isfinite(nonmember_scores)]
    if not len(member_scores) or not len(nonmember_scores):
        return {"auc": None, **{f"tpr@{t:g}fpr": None for t in FPRS}, "n_members": len(member_scores)}
    y = np.r_[np.ones(len(member_scores)), np.zeros(len(nonmember_scores))]
    s = np.r_[member_scores, nonmember_scores]
    fpr, tpr, _ = roc_curve(y, s)
    out = {"auc": float(roc_auc_score(y, s)), "n_members": int(len(member_scores)),
           "n_nonmembers": int(len(nonmember_scores))}
    for target in FPRS:
        out[f"tpr@{target:g}fpr"] = float(tpr[np.searchsorted(fpr, target, side="right") - 1])
    return out


def logit_confidence(logits, labels):
    """φ = log p_y − log(1 − p_y) of each row of `logits` [..., C] (labels of shape [...] or
    broadcastable to it), computed stably as z_y − logsumexp(z_{c≠y}); a tensor on their device.
    The LiRA statistic, here and for the heldout estimator's shadow models."""
    logits = logits.float()
    label = labels.expand(logits.shape[:-1])[..., None]
    z_y = logits.gather(-1, label).squeeze(-1)
    return z_y - torch.logsumexp(logits.scatter(-1, label, float("-inf")), dim=-1)


def phi_of(model, tset):
    logits = predict_logits(model, tset)
    return logit_confidence(logits, tset.y.to(logits.device)).cpu().numpy()


def example_losses(model, tset):
    logits = predict_logits(model, tset)
    return torch.nn.functional.cross_entropy(logits, tset.y.to(logits.device), reduction="none").cpu().numpy()


def population_loss_attack(model, forget, heldout, seed=0):
    """Cross-validated logistic regression on the loss: forget (members?) vs held-out examples."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    f, h = example_losses(model, forget), example_losses(model, heldout)
    n = min(len(f), len(h))
    rng = np.random.RandomState(seed)
    f, h = rng.permutation(f)[:n], rng.permutation(h)[:n]  # balanced, as in the challenge kit
    x = np.log(np.r_[f, h] + 1e-12)[:, None]
    y = np.r_[np.ones(n), np.zeros(n)]
    folds = StratifiedKFold(n_splits=min(5, n), shuffle=True, random_state=seed)
    prob = cross_val_predict(LogisticRegression(), x, y, cv=folds, method="predict_proba")[:, 1]
    return roc_summary(prob[:n], prob[n:])


def gaussian_params(phi, mask):
    """Per-example mean/std of φ over the shadow models selected by mask [K, n]."""
    count = mask.sum(0)
    mean = np.where(count > 0, (phi * mask).sum(0) / np.maximum(count, 1), np.nan)
    var = np.where(count > 1, ((phi - mean) ** 2 * mask).sum(0) / np.maximum(count - 1, 1), np.nan)
    std = np.sqrt(var)
    # too few shadow models for an example's own spread: LiRA's fixed-variance fallback
    fallback = np.nanmedian(std) if np.isfinite(std).any() else 1.0
    return mean, np.maximum(np.where(np.isfinite(std), std, fallback), MIN_STD)


def lira_offline_scores(target_phi, shadow_phi, out_mask):
    """P(φ_out < φ_target) under a Gaussian fit of the OUT shadow models: high = member-like."""
    from scipy import stats  # imported here: scipy.stats costs ~1 s of start-up for every script
    mean, std = gaussian_params(shadow_phi, out_mask)
    return stats.norm.cdf((target_phi - mean) / std)


def lira_online_scores(target_phi, shadow_phi, in_mask):
    """log N(φ; IN) − log N(φ; OUT): the per-example likelihood ratio (training examples only)."""
    from scipy import stats
    mu_in, sd_in = gaussian_params(shadow_phi, in_mask)
    mu_out, sd_out = gaussian_params(shadow_phi, ~in_mask)
    return stats.norm.logpdf(target_phi, mu_in, sd_in) - stats.norm.logpdf(target_phi, mu_out, sd_out)


def lira_attack(model, forget, heldout, shadows):
    """`shadows`: the heldout estimator's arrays (index, in_subset [K,n], train_phi [K,n],
    test_phi [K,m]); `heldout` must be the test set the shadows were scored on."""
    pos = {int(i): p for p, i in enumerate(shadows["index"])}
    cols = np.array([pos[int(i)] for i in forget.idx.tolist()])
    in_mask = shadows["in_subset"][:, cols].astype(bool)
    f_phi, h_phi = phi_of(model, forget), phi_of(model, heldout)
    f_scores = lira_offline_scores(f_phi, shadows["train_phi"][:, cols], ~in_mask)
    h_scores = lira_offline_scores(h_phi, shadows["test_phi"], np.ones_like(shadows["test_phi"], dtype=bool))
    result = roc_summary(f_scores, h_scores)
    online = lira_online_scores(f_phi, shadows["train_phi"][:, cols], in_mask)
    result["online_mean_llr_forget"] = float(np.nanmean(online))
    return result
