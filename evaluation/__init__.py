"""Evaluation of a trained model, never training: accuracy on named index sets, RUM's SVC
membership-inference attack, ToW / ToW-MIA (this package's namespace), and in their own modules
the stronger attacks (`attacks`), the capstone's extras (`capstone`, `cka`, `confusion`) and the
tables over seeds (`aggregate`, `capstone_report`). Formulas: docs/reference.md.

Layer: above `datasets` and `models`; it imports `engine` and `models` (and may import
`datasets`), never `unlearn`, `memorization` or `workflows`, which all use it."""
from .accuracy import accuracies, accuracy, predict_logits  # noqa: F401
from .mia import ATTACKS, svc_mia  # noqa: F401
from .tow import tow, tow_mia  # noqa: F401
