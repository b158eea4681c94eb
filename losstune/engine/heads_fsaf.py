"""FSAFHead (feature selective anchor-free), as MMDetection 3.3.0 writes it: its config's
``loss_cls`` and ``loss_bbox`` reduce with ``'none'``, and RetinaHead's ``loss_by_feat_single``
hands them every anchor of a level with the sampling's avg_factor, which an element-wise loss
ignores. ``loss_by_feat`` then selects, for each box, the level whose positives of that box have
the least mean loss (classification and box summed, ``collect_loss_level_single``); on every
other level ``reweight_loss_single`` zeroes the box weights of its positives and their label's
classification weight, and sums each level's weighted element-wise losses. Each term is divided
by the positives kept (``num_pos``), or where none is kept by the negatives of the sampling
(``num_pos + num_total_neg``)."""

from __future__ import annotations

# the method whose calls (one per level) say which positives the selection keeps, and what each
# level's terms sum to before the division
REWEIGHT_METHOD = "reweight_loss_single"

SELECTION = (
    "FSAFHead keeps each box's positives on the one feature level where their mean loss (classification "
    "and box) is least and sums the element-wise losses (online feature selection; approximated: every "
    "positive is taken as on its box's level, none is dropped)"
)
