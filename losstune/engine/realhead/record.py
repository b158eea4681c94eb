"""What the detector does while its loss runs: the config each module was built from (through the
registry's ``build``), every call of every loss module (its inputs, as passed, and its output), and
the inputs of the head's own ``loss``."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from losstune.engine.realhead.batch import NotPlain, to_plain


@dataclass
class Call:
    """One call of a loss module: where the module sits under the detector (``bbox_head.loss_cls``),
    the arguments as the head passed them (detached copies), and the output (as returned, with its
    autograd history, which says which term of the loss dict it feeds)."""

    index: int
    module: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    output: Any
    autocast: dict[str, str] | None = None  # {"device": "cuda", "dtype": "float16"}: made under AMP's autocast


def autocast_state(args: tuple[Any, ...]) -> dict[str, str] | None:
    """The autocast a call is made under (for the device of its first tensor), None outside one."""
    import torch

    device = next((a.device.type for a in args if isinstance(a, torch.Tensor)), "cpu")
    try:
        if not torch.is_autocast_enabled(device):
            return None
        dtype = torch.get_autocast_dtype(device)
    except (RuntimeError, TypeError):  # a device autocast does not know
        return None
    return {"device": device, "dtype": str(dtype).removeprefix("torch.")}


@dataclass
class Builds:
    """The config each module was built from, by the module's ``id``."""

    configs: dict[int, Any] = field(default_factory=dict)

    def of(self, module: Any) -> Any:
        return self.configs.get(id(module))


def _copy(value: Any, cpu: bool = False) -> Any:
    """A detached copy of the tensors in ``value`` (on the CPU with ``cpu``); other values as they are."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True) if cpu else value.detach().clone()
    if isinstance(value, (list, tuple)):
        return type(value)(_copy(v, cpu) for v in value)
    if isinstance(value, dict):
        return {k: _copy(v, cpu) for k, v in value.items()}
    return value


@contextlib.contextmanager
def recording_builds(registry: Any) -> Iterator[Builds]:
    """While inside, every ``registry.build(cfg)`` records ``cfg`` (plain, as passed) for the module built."""
    builds = Builds()
    original = registry.build

    def build(cfg: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            snapshot = to_plain(cfg)
        except NotPlain:
            snapshot = None
        built = original(cfg, *args, **kwargs)
        builds.configs[id(built)] = snapshot
        return built

    registry.build = build
    try:
        yield builds
    finally:
        del registry.build


def is_loss_module(name: str, module: Any) -> bool:
    """A loss module: one of MMDetection's losses, any module a head keeps as ``loss_*``, or one of
    torch's (GlobalContextHead's ``criterion``, ``nn.BCEWithLogitsLoss``)."""
    import torch

    return (
        type(module).__module__.startswith("mmdet.models.losses")
        or name.rsplit(".", 1)[-1].startswith("loss")
        or isinstance(module, torch.nn.modules.loss._Loss)
    )


@contextlib.contextmanager
def recording_calls(
    model: Any, *, cpu: bool = False, select: Callable[[str], bool] | None = None
) -> Iterator[list[Call]]:
    """While inside, every call of every loss module of ``model`` (those whose names ``select``
    takes, where given) is recorded, in call order; with ``cpu``, the inputs are copied to the CPU."""
    calls: list[Call] = []
    handles = []
    for name, module in model.named_modules():
        if not name or not is_loss_module(name, module) or (select is not None and not select(name)):
            continue

        def hook(mod: Any, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any, name: str = name) -> None:
            calls.append(Call(len(calls), name, _copy(args, cpu), _copy(kwargs, cpu), output, autocast_state(args)))

        handles.append(module.register_forward_hook(hook, with_kwargs=True))
    try:
        yield calls
    finally:
        for handle in handles:
            handle.remove()


@contextlib.contextmanager
def recording_method(owner: Any, method: str, where: str) -> Iterator[list[Call]]:
    """While inside, every call of ``owner.<method>`` is recorded as a :class:`Call` of ``where``
    (the owner's place under the detector), its arguments by name and its output (detached
    copies), for a head that computes its terms in its own code instead of calling loss modules
    (SSDHead's ``loss_by_feat_single``) or reduces their results there (FSAFHead's)."""
    calls: list[Call] = []
    original = getattr(owner, method)
    signature = inspect.signature(original)

    def recorded(*args: Any, **kwargs: Any) -> Any:
        output = original(*args, **kwargs)
        bound = dict(signature.bind(*args, **kwargs).arguments)
        # a detached copy of the output too: the head may change it in place after (FSAF divides its sums)
        calls.append(Call(len(calls), where, (), _copy(bound), _copy(output), autocast_state(args)))
        return output

    setattr(owner, method, recorded)
    try:
        yield calls
    finally:
        delattr(owner, method)


@dataclass
class HeadInputs:
    """The arguments of the head's ``loss`` by name, as they were passed, and the head's
    ``state_dict`` as it was then (a loss's running state, GHM's ``acc_sum``, moves during the call);
    detached copies."""

    arguments: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def recording_head_inputs(head: Any, seed: int) -> Iterator[HeadInputs]:
    """While inside, the arguments of ``head.loss`` are recorded by name, and torch's generator is
    seeded with ``seed`` just before it runs (so that a replay of the head draws what it drew)."""
    import torch

    seen = HeadInputs()
    original = head.loss
    signature = inspect.signature(original)

    def loss(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        arguments: dict[str, Any] = {}
        for name, v in bound.arguments.items():
            if signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
                arguments.update(v)
            else:
                arguments[name] = v
        seen.arguments = {k: _copy(v) for k, v in arguments.items()}
        seen.state = {k: _copy(v) for k, v in head.state_dict().items()}
        torch.manual_seed(seed)
        return original(*args, **kwargs)

    head.loss = loss
    try:
        yield seen
    finally:
        del head.loss
