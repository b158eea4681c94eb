"""Comprehensions: list, set and dict comprehensions and generator expressions, each in its own
scope of names, as Python runs them."""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

from losstune.loader.pytargets import Targets
from losstune.loader.values import LDict, Opaque


class Comprehensions(Targets):
    """The value of a comprehension."""

    def _comprehension(self, node: ast.AST, generators: list[ast.comprehension], emit: Callable[[], None]) -> Any:
        self.scopes.append({})
        budget = self.budget
        try:

            def loop(i: int) -> Any:
                if i == len(generators):
                    emit()
                    return None
                gen = generators[i]
                iterable = self.eval(gen.iter)
                if isinstance(iterable, Opaque):
                    return iterable
                for item in iter(iterable):
                    budget.charge(1)
                    self.assign(gen.target, item, None)
                    skip = False
                    for cond in gen.ifs:
                        test = self.eval(cond)
                        if isinstance(test, Opaque):
                            return test
                        if not test:
                            skip = True
                            break
                    if not skip:
                        r = loop(i + 1)
                        if isinstance(r, Opaque):
                            return r
                return None

            return loop(0)
        finally:
            self.scopes.pop()

    def _eval_ListComp(self, node: ast.ListComp) -> Any:
        out: list[Any] = []
        failed = self._comprehension(node, node.generators, lambda: out.append(self.eval(node.elt)))
        return failed if isinstance(failed, Opaque) else out

    def _eval_GeneratorExp(self, node: ast.GeneratorExp) -> Any:
        out: list[Any] = []
        failed = self._comprehension(node, node.generators, lambda: out.append(self.eval(node.elt)))
        return failed if isinstance(failed, Opaque) else out

    def _eval_SetComp(self, node: ast.SetComp) -> Any:
        out: list[Any] = []
        failed = self._comprehension(node, node.generators, lambda: out.append(self.eval(node.elt)))
        return failed if isinstance(failed, Opaque) else set(out)

    def _eval_DictComp(self, node: ast.DictComp) -> Any:
        out = LDict()
        out.span = self.span(node)

        def emit() -> None:
            key = self.eval(node.key)
            out.set(key, self.eval(node.value), self.origin(node.value))

        failed = self._comprehension(node, node.generators, emit)
        return failed if isinstance(failed, Opaque) else out
