"""Which loss module calls feed which term of the loss dict: a term is made from the calls whose
outputs its autograd graph reaches (through whatever the head does after the module returns: a
division by its own normaliser, a sum over levels)."""

from __future__ import annotations

from typing import Any

from losstune.engine.realhead.record import Call


def tensors(value: Any) -> list[Any]:
    """The tensors in ``value`` (a tensor, or dicts, lists and tuples of them), in order."""
    import torch

    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in tensors(v)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in tensors(v)]
    return []


def _reached(term: Any, calls: list[Call]) -> set[tuple[int, int]]:
    """The (call index, place in its output) of the call outputs ``term`` is computed from."""
    ends = {t.grad_fn: (c.index, i) for c in calls for i, t in enumerate(tensors(c.output)) if t.grad_fn is not None}
    found: set[tuple[int, int]] = set()
    stack = [t.grad_fn for t in tensors(term) if t.grad_fn is not None]
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
    return found


def feeding(term: Any, calls: list[Call]) -> list[int]:
    """The indices of the calls whose outputs ``term`` (a tensor or a list of tensors) is computed
    from, in call order."""
    return sorted({index for index, _ in _reached(term, calls)})


def fed_value(term: Any, calls: list[Call]) -> float:
    """The sum of the call outputs ``term`` is computed from, each as mmengine logs a tensor (its
    mean); of a call that returns several (AssociativeEmbeddingLoss's pull and push), those it is
    computed from only."""
    by_index = {c.index: c for c in calls}
    return float(sum(tensors(by_index[i].output)[at].detach().float().mean().item() for i, at in _reached(term, calls)))


def logged_value(output: Any) -> float:
    """A loss module's output as one number: its mean, as mmengine logs a tensor (the sum of a dict's terms)."""
    return float(sum(t.detach().float().mean().item() for t in tensors(output)))
