"""What evaluating one config file may cost, and the measures that keep it within that.

The interpreter carries one :class:`Budget` per file. Every statement, expression, loop iteration
and comprehension element is a step, and an operation that touches many elements (building a list,
joining strings, comparing nested values) costs a step for every ``ELEMENTS_PER_STEP`` of them, so
a hostile file is stopped within a fraction of a second instead of running until it is killed.
Every value an operation produces is bounded as well (integers by bits, strings and containers by
length, format widths), checked before the work is done wherever the size is known in advance.

Values are measured by identity (:func:`measure`): a part shared by many containers is walked once,
however often it appears, so measuring ``d = dict(a=d, b=d)`` nested sixty times is cheap, while
its size counts every appearance, as mmengine's copies of it would.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any, Literal

from msgspec import Struct

from losstune.loader import codes
from losstune.loader.limits import MAX_DATA_DEPTH
from losstune.loader.values import LDict, Opaque
from losstune.model import Diagnostic

Built = Literal["string", "list", "tuple", "set", "frozenset", "dict"]
"""What an operation builds, as the limits on lengths name it."""

ELEMENTS_PER_STEP = 20
"""Elements an operation may touch for the cost of one evaluation step."""


class Limits(Struct, frozen=True):
    """The limits of evaluating one config file statically.

    Real configs stay far below each of them: the largest MMDetection 3.3 config takes 1,600 steps
    and resolves to 12,000 values nested 14 levels deep.
    """

    steps: int = 100_000
    """Evaluation steps per file: statements, expressions, loop iterations, comprehension
    elements, and one per ``ELEMENTS_PER_STEP`` elements an operation touches."""
    length: int = 1_000_000
    """Elements of one list, tuple, set or dict, and characters of one string."""
    int_bits: int = 14_000
    """Bits of one integer (about 4,200 decimal digits): below the 4,300 digits Python converts to
    text by default, so every integer losstune keeps can be shown."""
    values: int = 500_000
    """Values that the names a file defines stand for together, a part shared by several
    containers counted each time it appears (mmengine copies it for each)."""
    text: int = 10_000_000
    """Characters of the strings those values hold, counted the same way."""
    depth: int = MAX_DATA_DEPTH
    """Levels of nesting of one value (as for the values of a YAML or JSON file)."""


DEFAULT_LIMITS = Limits()


class TooExpensive(Exception):
    """Evaluating the expression would cross a limit; its value becomes unknown."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StepsSpent(Exception):
    """The file's steps are spent: the statement being evaluated stops as a whole."""


class Budget:
    """The steps left to one file, and the size limits of the values it builds."""

    __slots__ = ("allowed", "extended", "limits", "steps")

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.steps = 0
        self.allowed = limits.steps
        self.extended = False

    def charge(self, steps: int) -> None:
        """Spend ``steps``; raises :class:`StepsSpent` past the file's allowance."""
        self.steps += steps
        if self.steps > self.allowed:
            raise StepsSpent()

    def work(self, elements: int) -> None:
        """Spend what touching ``elements`` elements costs."""
        if elements >= ELEMENTS_PER_STEP:
            self.charge(elements // ELEMENTS_PER_STEP)

    def extend_once(self) -> bool:
        """After a statement spent the steps: give the rest of the file a tenth of them more,
        once. ``False`` when that was done already."""
        if self.extended:
            return False
        self.extended = True
        self.allowed = self.steps + self.limits.steps // 10
        return True

    def sized(self, n: int, what: Built) -> None:
        """About to build ``what`` (``"list"``, ``"string"``...) of ``n`` elements or
        characters: refuse it beyond the length limit, and pay for it."""
        if n > self.limits.length:
            unit = "characters" if what == "string" else "elements"
            raise TooExpensive(f"it builds a {what} of {n:,} {unit} (losstune builds at most {self.limits.length:,})")
        self.work(n)

    def int_bits(self, bits: int) -> None:
        """About to build an integer of about ``bits`` bits."""
        if bits > self.limits.int_bits:
            raise TooExpensive(
                f"it computes an integer of about {bits:,} bits (losstune computes at most {self.limits.int_bits:,})"
            )

    def produced(self, value: Any) -> None:
        """Check a value an operation returned against the size limits."""
        t = type(value)
        if t is int:
            self.int_bits(value.bit_length())
        elif t in _SIZED:
            n = len(value)
            if n > self.limits.length:
                self.sized(n, _SIZED[t])

    def measure(self, value: Any) -> Extent:
        """:func:`measure`, paid for."""
        extent = measure(value, self.limits)
        self.charge(extent.work // 2)
        self.work(extent.slots)
        return extent


_SIZED: dict[type, Built] = {
    str: "string",
    bytes: "string",
    list: "list",
    tuple: "tuple",
    set: "set",
    frozenset: "set",
    dict: "dict",
}
_CONTAINERS = (dict, list, tuple, set, frozenset)
# The views of a dict (concrete types: an isinstance check against the ABCs is slow).
VIEWS: tuple[type, ...] = (type({}.keys()), type({}.values()), type({}.items()))
_FLOAT_TEXT = 24  # the longest repr() of a float: -1.2345678901234567e-308
_REPR_BIG_STRING = 64
_FLAT_NUMBERS = frozenset((int, float, bool))
_SHORT = 16  # containers shorter than this are walked element by element


class Extent(Struct, frozen=True):
    """What a value stands for once every shared part is counted each time it appears.

    ``values`` counts containers, dict keys and scalars; ``text`` the characters of the strings;
    ``printed`` bounds the length of ``repr()`` of the value; ``depth`` is its nesting (0 for a
    scalar). ``unknown`` is an :class:`~losstune.loader.values.Opaque` (or other object without a value
    of its own, such as a function) found inside; a dict's keys, values or items view, which
    mmengine cannot copy, is the one given when there is one. ``complete`` is ``False`` when the walk stopped
    early because the value is beyond ``values`` or ``depth`` of the limits (the figures are then
    lower bounds). ``work`` is how many elements the walk looked at one by one, ``slots`` how
    many elements the distinct containers it went through hold.
    """

    values: int
    text: int
    printed: int
    depth: int
    cyclic: bool
    unknown: Any
    complete: bool
    work: int
    slots: int


def _scalar(value: Any) -> tuple[int, int, Any]:
    """What a value that is not a container adds: characters of text, a bound on the length of
    its ``repr()``, and the value itself when it has no value of its own to print or compare."""
    t = type(value)
    if t is str:
        n = len(value)
        printed = 2 * n + 2 if n <= _REPR_BIG_STRING or value.isprintable() else 10 * n + 2
        return n, printed, None
    if t is int:
        return 0, min(value.bit_length() * 31 // 100 + 2, 4302), None
    if t is float or t is bool or value is None:
        return 0, _FLOAT_TEXT, None
    if t is bytes:
        return len(value), 4 * len(value) + 3, None
    if t is complex:
        return 0, 2 * _FLOAT_TEXT + 4, None
    if isinstance(value, (range, slice)):
        return 0, 200, None
    return 0, 0, value


def _flat(container: Any) -> tuple[int, int, int] | None:
    """(elements, text, printed) of a list, tuple or set of numbers only or of strings only,
    found without a Python-level look at each element; ``None`` for any other container."""
    n = len(container)
    kinds = set(map(type, container))
    if kinds <= _FLAT_NUMBERS:
        largest = max(map(abs, container))
        per = _FLOAT_TEXT
        if type(largest) is int and float not in kinds:
            per = max(per, min(largest.bit_length() * 31 // 100 + 2, 4302))
        return n, 0, 2 + n * (per + 2)
    if kinds == {str}:
        text = sum(map(len, container))
        per_char = 2 if all(map(str.isprintable, container)) else 10
        return n, text, 2 + n * 4 + per_char * text
    return None


def _children(value: Any) -> Iterator[tuple[Any, int]]:
    """The children of a container, each with how many times it appears there; a long list
    whose elements are largely the same objects (``[x] * n``) yields each object once."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k, 1
            yield v, 1
        return
    if len(value) >= _SHORT:
        counts = Counter(map(id, value))
        if len(counts) * 2 < len(value):
            objects = dict(zip(map(id, value), value, strict=True))
            for key, count in counts.items():
                yield objects[key], count
            return
    for child in value:
        yield child, 1


# What is known of a container: values, text, printed, depth, unknown inside, whether cyclic.
_Known = tuple[int, int, int, int, Any, bool]


def measure(value: Any, limits: Limits = DEFAULT_LIMITS) -> Extent:
    """Measure ``value`` by identity, in time linear in its distinct containers (never more than
    ``limits.values`` values are counted, nor ``limits.depth`` levels walked)."""
    return Walker(limits).measure(value)


class Walker:
    """Measures values by identity; the values measured by one walker share what it learnt, so
    measuring every name of a file costs one walk of what they hold. The values must not change
    while a walker is in use."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self._memo: dict[int, _Known] = {}
        self._strings: dict[int, tuple[int, int]] = {}
        self._slots = 0

    def _leaf(self, value: Any) -> tuple[int, int, Any]:
        if type(value) is str and len(value) > _REPR_BIG_STRING:
            cached = self._strings.get(id(value))
            if cached is None:
                text, printed, _ = _scalar(value)
                cached = self._strings[id(value)] = (text, printed)
            return cached[0], cached[1], None
        return _scalar(value)

    def _known(self, container: Any) -> _Known | None:
        """What is known of ``container`` without walking into it: memoised, or flat."""
        known = self._memo.get(id(container))
        if known is None and not isinstance(container, dict) and len(container) > 1:
            flat = _flat(container)
            self._slots += len(container)
            if flat is not None:
                known = self._memo[id(container)] = (flat[0] + 1, flat[1], flat[2], 1, None, False)
        return known

    def measure(self, value: Any) -> Extent:
        """The extent of ``value``."""
        if not isinstance(value, _CONTAINERS):
            text, printed, unknown = self._leaf(value)
            return Extent(1, text, printed, 0, False, unknown, True, 0, 0)
        limits = self.limits
        self._slots = 0
        if len(value) > limits.values:
            return Extent(len(value), 0, 0, 1, False, None, False, 0, len(value))
        known = self._known(value)
        if known is not None:
            complete = known[0] <= limits.values
            return Extent(known[0], known[1], known[2], known[3], known[5], known[4], complete, 0, self._slots)
        self._slots += len(value)
        on_path = {id(value)}
        # frame: [container, children, values, text, printed, depth below, unknown, cyclic]
        stack: list[list[Any]] = [[value, _children(value), 1, 0, 2, 0, None, False]]
        work = 0
        while True:
            frame = stack[-1]
            pushed = False
            for child, count in frame[1]:
                work += 1
                if work > limits.values:  # more elements than the limit: more values too
                    return Extent(work, 0, 0, len(stack), frame[7], frame[6], False, work, self._slots)
                if not isinstance(child, _CONTAINERS):
                    text, printed, unknown = self._leaf(child)
                    frame[2] += count
                    frame[3] += text * count
                    frame[4] += (printed + 2) * count
                    if unknown is not None and (frame[6] is None or isinstance(unknown, VIEWS)):
                        frame[6] = unknown
                    continue
                known = self._known(child)
                if known is not None:
                    _add(frame, known, count)
                    continue
                if id(child) in on_path:
                    frame[2] += count
                    frame[4] += 7 * count  # repr writes `[...]`
                    frame[7] = True
                    continue
                if len(stack) >= limits.depth or len(child) > limits.values:
                    return Extent(work, 0, 0, len(stack) + 1, frame[7], frame[6], False, work, self._slots)
                self._slots += len(child)
                on_path.add(id(child))
                stack.append([child, _children(child), 1, 0, 2, 0, None, False, count])
                pushed = True
                break
            if pushed:
                continue
            stack.pop()
            on_path.discard(id(frame[0]))
            done: _Known = (frame[2], frame[3], frame[4], frame[5] + 1, frame[6], frame[7])
            self._memo[id(frame[0])] = done
            if not stack:
                return Extent(done[0], done[1], done[2], done[3], done[5], done[4], True, work, self._slots)
            _add(stack[-1], done, frame[8])


def _add(frame: list[Any], part: _Known, count: int) -> None:
    frame[2] += part[0] * count
    frame[3] += part[1] * count
    frame[4] += (part[2] + 2) * count
    frame[5] = max(frame[5], part[3])
    if part[4] is not None and (frame[6] is None or isinstance(part[4], VIEWS)):
        frame[6] = part[4]
    frame[7] = frame[7] or part[5]


def describe_excess(extent: Extent, limits: Limits) -> str | None:
    """Why a value that measures ``extent`` is beyond the limits of a resolved config, or
    ``None`` when it is within them."""
    if extent.depth > limits.depth:
        return (
            f"it is nested more than {limits.depth} levels deep (losstune reads at most {limits.depth}; "
            "mmengine's own conversion of the config fails at a few hundred)"
        )
    if extent.values > limits.values:
        more = "" if extent.complete else "more than "
        return (
            f"it stands for {more}{extent.values:,} values once every shared part is counted where it appears, "
            f"as mmengine copies it (losstune reads at most {limits.values:,})"
        )
    if extent.text > limits.text:
        return (
            f"it holds {extent.text:,} characters of text once every shared part is counted where it appears "
            f"(losstune reads at most {limits.text:,})"
        )
    return None


_QUICK = 20_000


def _small_tree(root: Any, limits: Limits) -> bool:
    """Whether ``root`` is within the limits by a plain walk of at most ``_QUICK`` elements,
    a shared part walked each time it appears (a config's names are that, nearly always)."""
    values = text = walked = 0
    max_depth = limits.depth
    # Level by level, the values of each level in a list of their own: their depth is the level's.
    level = [root]
    depth = 1
    while level:
        below: list[Any] = []
        push = below.append
        for value in level:
            values += 1
            t = type(value)
            if t is str:
                text += len(value)
                continue
            if t is LDict or t is dict:
                values += len(value)
                children: Iterable[Any] = value.values()
                for k in value:
                    if type(k) is str:
                        text += len(k)
                    elif not isinstance(k, (int, float, bool)):
                        push(k)
            elif t is list or t is tuple or t is set or t is frozenset:
                children = value
            elif isinstance(value, VIEWS) or isinstance(value, _CONTAINERS):
                return False
            else:
                continue
            walked += len(value)
            if depth > max_depth or walked > _QUICK:
                return False
            # A child without parts is counted here rather than pushed: the same count as walking
            # it later would give.
            for v in children:
                tv = type(v)
                if tv is str:
                    values += 1
                    text += len(v)
                elif tv is int or tv is float or tv is bool or v is None:
                    values += 1
                else:
                    push(v)
        level = below
        depth += 1
    return values <= limits.values and text <= limits.text


def refuse_oversized(names: LDict, diagnostics: list[Diagnostic], limits: Limits = DEFAULT_LIMITS) -> None:
    """Make opaque, with a diagnostic where it was set, each value of ``names`` (the names a
    file defines) that contains itself or is beyond the limits of a resolved config, alone or
    together with the names before it. What is left is safe to copy, merge and write out."""
    if _small_tree(names, limits):
        return
    walker = Walker(limits)
    values = text = 0
    for key in list(names):
        value = names[key]
        kind = type(value)
        if not isinstance(value, _CONTAINERS) and not isinstance(value, VIEWS):
            # A value without parts: one value, and its characters if it is text.
            chars = len(value) if kind is str or kind is bytes else 0
            if values < limits.values and text + chars <= limits.text:
                values += 1
                text += chars
                continue
        extent = walker.measure(value)
        together = values + extent.values > limits.values or text + extent.text > limits.text
        refusal = _refusal(key, extent, limits, together)
        if refusal is None:
            values += extent.values
            text += extent.text
            continue
        code, reason, message, fix = refusal
        origin = names.origins.get(key)
        span = origin.span if origin is not None else None
        diagnostics.append(codes.diagnostic(code, message, span, fix=fix))
        names.set(key, Opaque(reason, str(key), span), origin)


def _refusal(key: Any, extent: Extent, limits: Limits, together: bool) -> tuple[codes.Code, str, str, str] | None:
    """(code, reason, message, fix) when the value of the name ``key`` cannot be resolved;
    ``together``: with the names before it, the file's values are beyond the limits."""
    problem = describe_excess(extent, limits)
    if problem is None and together:
        problem = (
            f"with the names before it, the file's values come to more than {limits.values:,} values or "
            f"{limits.text:,} characters once every shared part is counted where it appears (losstune reads at most that)"
        )
    if problem is not None:
        return (
            codes.TOO_EXPENSIVE,
            problem,
            f"`{key}` is too large to resolve: {problem}; its value is unknown to losstune",
            "build it without repeating a shared part so often (mmengine copies each repetition)",
        )
    if isinstance(extent.unknown, VIEWS):
        # Config.fromfile deep-copies the names a file defines, and a view cannot be copied.
        kind = type(extent.unknown).__name__
        reason = f"TypeError: cannot pickle '{kind}' object"
        return (
            codes.EVALUATION_ERROR,
            reason,
            f"{reason}: `{key}` holds the {kind[5:]} view of a dict, which mmengine cannot copy "
            "(mmengine would fail to load this config here)",
            "make it a list: `list(d.keys())`",
        )
    if extent.cyclic:
        reason = (
            f"RecursionError: `{key}` contains itself, and mmengine's conversion of the config recurses into it "
            "until Python's recursion limit"
        )
        return (
            codes.EVALUATION_ERROR,
            reason,
            f"{reason} (mmengine would fail to load this config here)",
            "do not put a list or dict inside itself",
        )
    return None
