"""Tug-of-War (RUM's ToW; docs/reference.md): how close an unlearned model is to the retrain
reference.

ToW = Π_{s∈{forget, retain, test}} (1 − |acc_s(u) − acc_s(r)| / 100); ToW-MIA replaces the forget
term by 1 − |MIA(u) − MIA(r)| (MIA as a fraction, RUM's `confidence` attack). 1 means identical.
"""
import math

TOW_SETS = ("forget", "retain", "test")
# the same product with the validation split in place of the test split: what a choice among
# methods or strengths may look at without ever seeing the test split
VAL_TOW_SETS = ("forget", "retain", "val")
MIA_KEY = "confidence"


def accuracy_ratio(a, b):
    return 1.0 - abs(a - b) / 100.0


def tow(acc, ref_acc, sets=TOW_SETS):
    return math.prod(accuracy_ratio(acc[s], ref_acc[s]) for s in sets)


def tow_mia(acc, mia, ref_acc, ref_mia):
    ratio_mia = 1.0 - abs(mia[MIA_KEY] - ref_mia[MIA_KEY])
    return ratio_mia * accuracy_ratio(acc["retain"], ref_acc["retain"]) * \
        accuracy_ratio(acc["test"], ref_acc["test"])
