"""Which loss module calls feed which term of the loss dict: a term is made from the calls whose
outputs its autograd graph reaches (through whatever the head does after the module returns: a
division by its own normaliser, a sum over levels)."""

from __future__ import annotations

from typing import Any

from losstune.engine.realhead.record import Call


def _tensors(value: Any) -> list[Any]:
    import torch

    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    return []


def feeding(term: Any, calls: list[Call]) -> list[int]:
    """The indices of the calls whose outputs ``term`` (a tensor or a list of tensors) is computed
    from, in call order."""
    ends = {t.grad_fn: c.index for c in calls for t in _tensors(c.output) if t.grad_fn is not None}
    found: set[int] = set()
    stack = [t.grad_fn for t in _tensors(term) if t.grad_fn is not None]
    seen = set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if node in ends:
            found.add(ends[node])
            continue
        stack.extend(n for n, _ in node.next_functions if n is not None)
    return sorted(found)


def logged_value(output: Any) -> float:
    """A loss module's output as one number: its mean, as mmengine logs a tensor (the sum of a dict's terms)."""
    return float(sum(t.detach().float().mean().item() for t in _tensors(output)))
