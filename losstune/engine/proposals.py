"""The precomputed proposals a detector without an RPN trains from (Fast R-CNN): MMDetection's
``TwoStageDetector.loss`` hands its RoI head each data sample's ``proposals``, which the training
pipeline's ``LoadProposals`` reads from the dataset's ``proposal_file``, the first
``num_max_proposals`` of each image (sorted by score when they were dumped; all of them where it
is ``None``). Read statically from the config, as everything else."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from losstune.keypath import walk_dicts
from losstune.schema.catalogue import bare_type

DEFAULT_PROPOSALS = 2000  # the proposals of an image where LoadProposals keeps them all: an RPN's about


@dataclass(frozen=True)
class Proposals:
    """How many precomputed proposals an image has, and where the config says it (in words)."""

    count: int
    source: str


def uses_proposals(model: dict[str, Any]) -> bool:
    """Whether ``model`` trains its RoI head on precomputed proposals: it has a ``roi_head`` and no
    ``rpn_head`` (``TwoStageDetector`` then reads ``data_sample.proposals``)."""
    return isinstance(model.get("roi_head"), dict) and model.get("rpn_head") is None


def train_proposals(tree: dict[str, Any]) -> Proposals | None:
    """The proposals of an image the config's training pipeline loads, where its model trains on
    precomputed ones (``None`` otherwise): ``LoadProposals.num_max_proposals`` of
    ``train_dataloader``'s pipeline, or :data:`DEFAULT_PROPOSALS` where it keeps them all or the
    pipeline names no ``LoadProposals`` (said in ``source``)."""
    model = tree.get("model")
    if not isinstance(model, dict) or not uses_proposals(model):
        return None
    loader = tree.get("train_dataloader")
    for _, d in walk_dicts(loader if isinstance(loader, dict) else {}):
        if bare_type(str(d.get("type", ""))) != "LoadProposals":
            continue
        n = d.get("num_max_proposals")
        if isinstance(n, int) and not isinstance(n, bool) and n > 0:
            return Proposals(n, f"LoadProposals' num_max_proposals={n} of the training pipeline")
        return Proposals(
            DEFAULT_PROPOSALS,
            f"LoadProposals keeps every proposal of the file (num_max_proposals={n!r}); {DEFAULT_PROPOSALS} taken",
        )
    return Proposals(
        DEFAULT_PROPOSALS,
        f"the training pipeline names no LoadProposals; {DEFAULT_PROPOSALS} taken, an RPN's proposals of an image",
    )
