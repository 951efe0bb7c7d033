"""Evaluation: accuracy on named index sets, the SVC membership-inference attack, ToW / ToW-MIA."""
from .accuracy import accuracies, accuracy, predict_logits  # noqa: F401
from .mia import ATTACKS, svc_mia  # noqa: F401
from .tow import tow, tow_mia  # noqa: F401
