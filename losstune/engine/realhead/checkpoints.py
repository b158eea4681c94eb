"""No pretrained weights for ``--through-head``: the synthetic batch needs a freshly initialised
detector, so every checkpoint a config names is left out of the model before MMDetection builds it
(each one said in the output), and any load that still happens while the model is built or
initialised is refused instead of reaching the network or a file.

MMDetection 3.3.0 loads a checkpoint while building or initialising a model in these ways:

- ``init_cfg=dict(type='Pretrained', checkpoint=...)`` (alone, in a list of init configs, or as an
  ``override``): mmengine's ``BaseModule.init_weights`` runs ``PretrainedInit``, which loads it;
- ``init_cfg=dict(checkpoint=...)`` with no type: PVT's and Swin's own ``init_weights`` load it;
- ``pretrained='...'`` on a backbone or shared head (ResNet, ResNeXt, HRNet, RegNet, Res2Net,
  DetectoRS, MobileNetV2, Darknet, SSDVGG, PVT, Swin, ResLayer): turned into a ``Pretrained``
  init_cfg in ``__init__``; ``pretrained=True`` is a timm backbone's download;
- ``teacher_ckpt`` of LAD and the knowledge-distillation detectors: loaded in ``__init__``;
- ``teacher_config`` given as a path (LD): ``Config.fromfile`` executes that file and the teacher
  it describes is built with its own pretrained init_cfg; it is read here without executing it and
  its model is passed instead, without its checkpoints;
- a language model by name (GLIP's and Grounding DINO's ``lang_model_name='bert-base-uncased'``):
  Hugging Face's ``from_pretrained`` reads its configuration, tokenizer and weights from the
  network or its cache in ``__init__``; there is no config key that leaves it out, so such a model
  is refused in one line.

``load_from`` and ``resume`` are read by the runner, which ``--through-head`` never builds; a
``load_from`` is still said, as the numbers are not those of a run that starts from it.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from losstune.schema.catalogue import bare_type


@dataclass(frozen=True)
class LeftOut:
    """A checkpoint the config names that the run did not load: the config key that names it
    (``model.backbone.init_cfg``, ``load_from``) and the checkpoint as written there."""

    key: str
    checkpoint: str

    def describe(self) -> str:
        """``key (checkpoint)``, in words."""
        return f"{self.key} ({self.checkpoint})"


@dataclass(frozen=True)
class Asked:
    """A load that MMDetection attempted while the model was built or initialised: the checkpoint
    (a path or URL) or, with ``by_name``, the name of a Hugging Face model (``bert-base-uncased``),
    which no config key can leave out."""

    checkpoint: str
    by_name: bool = False


class CheckpointRefused(Exception):
    """A load of ``checkpoint`` that MMDetection attempted while the model was built or initialised
    and that the config's keys did not show (a custom module's own loading, say)."""

    def __init__(self, checkpoint: str) -> None:
        super().__init__(checkpoint)
        self.checkpoint = checkpoint


def _pretrained_init(init: Any) -> bool:
    if not isinstance(init, dict):
        return False
    if "type" not in init:
        return "checkpoint" in init  # PVT's and Swin's init_weights read init_cfg.checkpoint themselves
    return bare_type(str(init["type"])) == "Pretrained"


def _init_without(init: Any, key: str, left: list[LeftOut]) -> Any:
    """``init`` (an init_cfg: a dict or a list of them) without its pretrained entries; None when
    nothing is left, so that the module's own default initialisation applies."""
    entries = init if isinstance(init, list) else [init]
    kept = []
    for entry in entries:
        if _pretrained_init(entry):
            left.append(LeftOut(key, str(entry.get("checkpoint"))))
            continue
        if isinstance(entry, dict) and "override" in entry:
            override = _init_without(entry["override"], f"{key}.override", left)
            entry = {k: v for k, v in entry.items() if k != "override"}
            if override is not None:
                entry["override"] = override
        kept.append(entry)
    if not kept:
        return None
    return kept if isinstance(init, list) else kept[0]


def without_checkpoints(value: Any, key: str, left: list[LeftOut]) -> Any:
    """``value`` (the plain ``model`` dict at config key ``key``) with every checkpoint it names left
    out, each appended to ``left``: the detector's ``init_weights`` then initialises everything as
    training starts (the heads' prior-probability biases, DETR's level embeddings), and a pretrained
    backbone gets its own initialisation instead of the checkpoint. A ``teacher_config`` path is
    left for :func:`teacher_path`."""
    if isinstance(value, list):
        return [without_checkpoints(v, f"{key}.{i}", left) for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    out = {}
    for k, v in value.items():
        at = f"{key}.{k}"
        if k == "init_cfg" and v is not None:
            init = _init_without(v, at, left)
            if init is not None:
                out[k] = init
            continue
        if k == "pretrained" and (isinstance(v, str) or v is True):
            left.append(LeftOut(at, str(v)))
            out[k] = None if isinstance(v, str) else False
            continue
        if k == "teacher_ckpt" and isinstance(v, str):
            left.append(LeftOut(at, v))
            out[k] = None
            continue
        out[k] = without_checkpoints(v, at, left)
    return out


def teacher_path(model: dict[str, Any]) -> Path | None:
    """The file a knowledge-distillation detector's ``teacher_config`` names, as mmengine's
    ``Config.fromfile`` finds it (relative to the working directory), or None."""
    teacher = model.get("teacher_config")
    return Path(teacher).absolute() if isinstance(teacher, str) else None


# The classes whose ``from_pretrained`` reads a Hugging Face model, configuration or tokenizer.
_HUGGING_FACE = (
    "PreTrainedModel",
    "PretrainedConfig",
    "PreTrainedTokenizerBase",
    "AutoConfig",
    "AutoModel",
    "AutoTokenizer",
)


def _hugging_face() -> Any:
    """The ``transformers`` module where it is installed (MMDetection imports it with its language
    models where it is), else None; never installed by the import."""
    module = sys.modules.get("transformers")
    if module is None and importlib.util.find_spec("transformers") is not None:
        module = importlib.import_module("transformers")
    return module


@contextlib.contextmanager
def refusing_loads(asked: list[Asked]) -> Iterator[None]:
    """While inside, every checkpoint load through mmengine (``CheckpointLoader``, which
    ``load_checkpoint`` and ``PretrainedInit`` use), every download through ``torch.hub`` and every
    ``from_pretrained`` of Hugging Face's ``transformers`` (where it is installed) raises
    :class:`CheckpointRefused`, and what was asked for is appended to ``asked``, so that it is known
    even where the caller caught the error (or the registry's build re-raised it as its own)."""
    import torch.hub
    from mmengine.runner.checkpoint import CheckpointLoader

    def refuse(filename: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(Asked(str(filename)))
        raise CheckpointRefused(str(filename))

    def refuse_named(cls: Any, name: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(Asked(str(name), by_name=True))
        raise CheckpointRefused(str(name))

    saved = (
        CheckpointLoader.__dict__["load_checkpoint"],
        torch.hub.load_state_dict_from_url,
        torch.hub.download_url_to_file,
    )
    transformers = _hugging_face()
    classes: list[Any] = [getattr(transformers, name, None) for name in _HUGGING_FACE] if transformers else []
    saved_named: list[tuple[Any, Any]] = [(c, vars(c).get("from_pretrained")) for c in classes if isinstance(c, type)]
    CheckpointLoader.load_checkpoint = staticmethod(refuse)
    torch.hub.load_state_dict_from_url = refuse  # type: ignore[assignment]
    torch.hub.download_url_to_file = refuse  # type: ignore[assignment]
    for c, _ in saved_named:
        c.from_pretrained = classmethod(refuse_named)
    try:
        yield
    finally:
        (
            CheckpointLoader.load_checkpoint,
            torch.hub.load_state_dict_from_url,
            torch.hub.download_url_to_file,
        ) = saved
        for c, method in saved_named:
            if method is None:
                del c.from_pretrained  # it was inherited
            else:
                c.from_pretrained = method
