"""Evaluation: accuracy on named index sets (more metrics join as the project grows)."""
from .accuracy import accuracies, accuracy, predict_logits  # noqa: F401
