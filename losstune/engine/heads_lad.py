"""LAD's student head (``LADHead``) as MMDetection 3.3.0 feeds its losses: ``LAD.loss`` runs the
teacher's PAA head (``teacher_bbox_head``, on the teacher's backbone and neck, without gradients)
and its ``get_label_assignment`` (PAAHead's anchor targets, each image's positives re-assigned by
``paa_reassign``'s Gaussian mixture on the teacher's own losses), and hands that assignment to the
student's ``loss_by_feat``. There, ``loss_cls`` gets every anchor with the teacher's labels and label
weights, ``avg_factor = max(num_pos, images)``; ``loss_bbox`` the positives' decoded predictions
against their targets, no weight, ``avg_factor = num_pos``; ``loss_centerness`` (logged
``loss_iou``) the positives' IoU logits, ``(N, 1)``, against the IoUs of their decoded predictions
with their targets, ``avg_factor = num_pos`` (with no positive neither box module is called). Where
PAAHead weights its ``loss_bbox`` by those IoUs and divides by their sum, LAD's student does not.

The model has no teacher to run: it takes PAA's assignment on its own image (the same synthetic
assignment PAAHead's losses are fed from) for the teacher's. What is exact is the rule (which rows,
the avg_factor, no division afterwards); which anchors are positive is the teacher's choice, from
its trained predictions, and is approximated."""

from __future__ import annotations

from typing import Any

LAD_HEAD = "LADHead"
TEACHER_NOTE = (
    "; the assignment is the teacher's (LAD.loss runs teacher_bbox_head.get_label_assignment, PAA's, on the "
    "same batch): approximated by PAA's assignment on the model's image, the teacher's predictions not modelled"
)


def with_teacher(made: tuple[list[Any], str]) -> tuple[list[Any], str]:
    """The arguments PAAHead's maker made (``loss_centerness`` on ``(N, 1)`` columns), the words
    ending with where LADHead's assignment comes from."""
    args, how = made
    return args, how + TEACHER_NOTE
