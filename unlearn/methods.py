"""Importing a method module registers it; adding a method is one module and one line here."""
from . import (bad_teaching, finetune, gradient_ascent, l1_sparse, neggrad_plus, original,  # noqa: F401
               random_label, retrain, salun, scrub, wfisher)
