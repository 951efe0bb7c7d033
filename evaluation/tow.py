"""Tug-of-War (RUM's ToW; docs/reference.md): how close an unlearned model is to the retrain
reference.

ToW = Π_{s∈{forget, retain, test}} (1 − |acc_s(u) − acc_s(r)| / 100); ToW-MIA replaces the forget
term by 1 − |MIA(u) − MIA(r)| (MIA as a fraction, RUM's `confidence` attack). 1 means identical.
"""
import math

TOW_SETS = ("forget", "retain", "test")
MIA_KEY = "confidence"


def accuracy_ratio(a, b):
    return 1.0 - abs(a - b) / 100.0


def tow(acc, ref_acc):
    return math.prod(accuracy_ratio(acc[s], ref_acc[s]) for s in TOW_SETS)


def tow_mia(acc, mia, ref_acc, ref_mia):
    ratio_mia = 1.0 - abs(mia[MIA_KEY] - ref_mia[MIA_KEY])
    return ratio_mia * accuracy_ratio(acc["retain"], ref_acc["retain"]) * \
        accuracy_ratio(acc["test"], ref_acc["test"])
