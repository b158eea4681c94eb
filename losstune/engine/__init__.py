"""Evaluate a configured loss step by step, as MMDetection 3.x computes it (torch is imported only
here, and only when a loss is evaluated).

>>> from losstune.engine import evaluate
>>> trace = evaluate(dict(type='L1Loss', loss_weight=2.0), pred, target)   # doctest: +SKIP
>>> trace.loss, [s.name for s in trace.steps]                               # doctest: +SKIP
"""

from losstune.engine.evaluation import evaluate
from losstune.engine.trace import Step, Trace, UnsupportedLoss

__all__ = ["Step", "Trace", "UnsupportedLoss", "evaluate"]
