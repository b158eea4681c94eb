"""The lint rules, each in its own module; ``ALL_RULES`` lists them in code order.

``ALL_RULES`` imports the rule modules when it is first asked for: a command that checks no
rules (``explain`` takes one function of one rule's module) does not import the twenty of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from losstune.rules.base import Context, Example, Rule

if TYPE_CHECKING:
    ALL_RULES: tuple[Rule, ...]


def _all_rules() -> tuple[Rule, ...]:
    """Every rule, in code order, their modules imported."""
    from losstune.rules.class_weight_length import ClassWeightLength
    from losstune.rules.conflicting_flags import ConflictingFlags
    from losstune.rules.invalid_choice import InvalidChoice
    from losstune.rules.iou_loss_needs_decoded_boxes import IoULossNeedsDecodedBoxes
    from losstune.rules.leaked_delete import LeakedDelete
    from losstune.rules.missing_required import MissingRequired
    from losstune.rules.must_be_literal import MustBeLiteral
    from losstune.rules.num_classes_mismatch import NumClassesMismatch
    from losstune.rules.out_of_range import OutOfRange
    from losstune.rules.replaced_without_type import ReplacedWithoutType
    from losstune.rules.sampler_with_balanced_loss import SamplerWithBalancedLoss
    from losstune.rules.seesaw_num_classes import SeesawNumClasses
    from losstune.rules.stale_derived_value import StaleDerivedValue
    from losstune.rules.sum_with_avg_factor import SumWithAvgFactor
    from losstune.rules.unchecked_type import UncheckedType
    from losstune.rules.unknown_parameter import UnknownParameter
    from losstune.rules.unknown_type import UnknownType
    from losstune.rules.unused_noqa import UnusedNoqa
    from losstune.rules.wrong_type import WrongType
    from losstune.rules.zero_loss_weight import ZeroLossWeight

    return (
        UnusedNoqa(),
        UnknownType(),
        UnknownParameter(),
        WrongType(),
        OutOfRange(),
        InvalidChoice(),
        MissingRequired(),
        MustBeLiteral(),
        ConflictingFlags(),
        ClassWeightLength(),
        SumWithAvgFactor(),
        SamplerWithBalancedLoss(),
        IoULossNeedsDecodedBoxes(),
        ZeroLossWeight(),
        LeakedDelete(),
        SeesawNumClasses(),
        UncheckedType(),
        StaleDerivedValue(),
        NumClassesMismatch(),
        ReplacedWithoutType(),
    )


def __getattr__(name: str) -> Any:
    """``ALL_RULES``: the rules (:func:`_all_rules`), made once, when first asked for."""
    if name == "ALL_RULES":
        rules = globals()["ALL_RULES"] = _all_rules()
        return rules
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ALL_RULES", "Context", "Example", "Rule"]
