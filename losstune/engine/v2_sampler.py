"""The sampler a dense head of MMDetection 2.x (2.28.2) builds, where it is not its config's.

3.3.0's dense heads build ``train_cfg.sampler`` where it is set (``AnchorHead.__init__``,
``dense_heads/anchor_head.py:90-94``, which ATSS, TOOD, PAA, LAD, DDOD, FSAF, PISA, YOLOF and
YOLACT inherit; GFL's, VFNet's, SSD's, SABL's, GuidedAnchor's and RepPoints' own ``__init__`` do
the same). 2.28.2's decide it in each head's ``__init__``, and some ignore the config's sampler:

- always a PseudoSampler: ``ATSSHead`` (``atss_head.py:57-62``, so TOOD, PAA and LAD too),
  ``GFLHead`` (``gfl_head.py:118-123``), ``DDODHead`` (``ddod_head.py:55-60``), ``VFNetHead``
  (``vfnet_head.py:159-163``), ``SSDHead`` (``ssd_head.py:107-112``, and PISASSDHead) and
  ``YOLACTHead`` with ``use_ohem`` (``yolact_head.py:84-87``, the only YOLACT losstune models);
- a PseudoSampler where ``loss_cls`` is a ``FocalLoss``, ``GHMC`` or ``QualityFocalLoss``:
  ``AnchorHead`` (``anchor_head.py:84-102``, and RetinaHead, RPNHead, FSAF, PISA, YOLOF) and
  ``SABLRetinaHead`` (``sabl_retina_head.py:129-152``);
- a PseudoSampler where ``loss_cls`` is a ``FocalLoss``: ``GuidedAnchorHead``
  (``guided_anchor_head.py:170, 190-198``, and GARPNHead) and ``RepPointsHead``
  (``reppoints_head.py:101-111``).

The sampler's ``avg_factor`` follows: a PseudoSampler's is ``Σ max(positives, 1)``, a sampler's
adds ``Σ max(negatives, 1)``. No config of 2.28.2's tree sets a sampler these heads ignore."""

from __future__ import annotations

from typing import Any

from losstune.schema.catalogue import bare_type

ALWAYS_PSEUDO = {
    "ATSSHead": "ATSSHead.__init__",
    "TOODHead": "ATSSHead.__init__",
    "PAAHead": "ATSSHead.__init__",
    "LADHead": "ATSSHead.__init__",
    "GFLHead": "GFLHead.__init__",
    "DDODHead": "DDODHead.__init__",
    "VFNetHead": "VFNetHead.__init__",
    "SSDHead": "SSDHead.__init__",
    "PISASSDHead": "SSDHead.__init__",
    "YOLACTHead": "YOLACTHead.__init__",
}
SAMPLING_LOSSES = ("FocalLoss", "GHMC", "QualityFocalLoss")
# family -> (the loss_cls types that turn sampling off, the code that decides)
BY_LOSS: dict[str, tuple[tuple[str, ...], str]] = {
    **{
        family: (SAMPLING_LOSSES, "AnchorHead.__init__")
        for family in ("AnchorHead", "RPNHead", "FSAFHead", "PISARetinaHead", "YOLOFHead")
    },
    "SABLRetinaHead": (SAMPLING_LOSSES, "SABLRetinaHead.__init__"),
    **{family: (("FocalLoss",), "GuidedAnchorHead.__init__") for family in ("GuidedAnchorHead", "GARPNHead")},
    "RepPointsHead": (("FocalLoss",), "RepPointsHead.__init__"),
}


def built_sampler(family: str | None, head: dict[str, Any], sampler: dict[str, Any] | None) -> str | None:
    """Why 2.x's head of ``family`` (its config ``head``) builds a PseudoSampler in place of the
    configured ``sampler``, or ``None`` where it builds the configured one (or there is none, or
    it is a PseudoSampler)."""
    if sampler is None or family is None or bare_type(str(sampler.get("type"))) == "PseudoSampler":
        return None
    kind = bare_type(str(sampler.get("type")))
    if family in ALWAYS_PSEUDO:
        return (
            f"MMDetection 2.x's {ALWAYS_PSEUDO[family]} builds a PseudoSampler whatever train_cfg.sampler is: "
            f"the configured {kind} is not used (3.x uses it)"
        )
    found = BY_LOSS.get(family)
    loss_cls = head.get("loss_cls")
    loss_type = loss_cls.get("type") if isinstance(loss_cls, dict) else None
    if found is None or loss_type not in found[0]:  # 2.x compares the type as written
        return None
    return (
        f"MMDetection 2.x's {found[1]} builds a PseudoSampler where loss_cls is a {loss_type}: the configured "
        f"{kind} is not used (3.x uses it)"
    )


def without_sampler(model: dict[str, Any]) -> dict[str, Any]:
    """``model`` with no ``train_cfg.sampler``, as a head that builds a PseudoSampler sees it."""
    train = model.get("train_cfg")
    if not isinstance(train, dict) or "sampler" not in train:
        return model
    return {**model, "train_cfg": {k: v for k, v in train.items() if k != "sampler"}}
