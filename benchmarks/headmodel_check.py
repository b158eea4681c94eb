"""The head model (what ``losstune eval`` computes without MMDetection) held against MMDetection's
own head, over a tree of configs: for each config whose head runs here (with mmcv-lite, on the
CPU), the head is run on a seeded synthetic batch and each term of its loss dict is compared with
the model's, evaluated at the head's number of priors on the same seed (see
``losstune/engine/realhead/versus.py``). Needs mmdet 3.x (the dev extra). Usage, from the root::

    .venv/bin/python benchmarks/headmodel_check.py PATH/TO/mmdet/.mim/configs [--only retinanet,gfl] [--limit N]

Per term: ``shape`` (the prediction's width, and whether every prior or the positives are handed
to the module), ``avg`` (the model's avg_factor rule counted on the head's own positives,
negatives and weights, against the avg_factor the head passes), ``div`` (the division after the
module, counted alike), ``value`` (the model's term within a factor of 2 of the head's: the inputs
differ, the model's being synthetic). A head that calls no loss module (SSDHead) is read from the
method that computes its terms (its arguments per image): shape and avg_factor are counted on them,
the division is the head's term over the model's term computed on them, and that term is held
against the head's too (rtol 1e-4). A head whose losses follow the training epoch (TOODHead) is
held at an epoch of each phase, a row each. A text detector (Grounding DINO, GLIP), whose language
model MMDetection reads by name with Hugging Face's ``from_pretrained`` (which losstune refuses),
runs with an offline random BERT in its place (``benchmarks/offline_bert.py``), its samples
carrying the dataset's class names as ``text`` with ``custom_entities``. It prints a table per head family, the reasons for each
difference, the configs whose head does not run here (and why), and the totals.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import losstune  # noqa: E402
from benchmarks import offline_bert  # noqa: E402
from losstune.cli.context import resolver  # noqa: E402
from losstune.engine.realhead.batch import BatchSpec  # noqa: E402
from losstune.engine.realhead.run import HeadFailed  # noqa: E402
from losstune.engine.realhead.versus import HeadCheck, hold  # noqa: E402

ASPECTS = ("shape", "avg", "div", "value")


class TimedOut(Exception):
    """A config that took longer than ``--timeout`` seconds."""


def _alarm(signum: int, frame: object) -> None:
    raise TimedOut


def _reason(text: str) -> str:
    """A difference or failure with its numbers taken out, so that alike ones are counted together."""
    op = re.search(r"needs mmcv's compiled op `(\w+)`", text)
    if op:
        return f"needs mmcv's compiled op {op.group(1)} (mmcv-lite has none)"
    text = re.sub(r"`[^`]*`", "`…`", text)
    return re.sub(r"-?\d+(\.\d+)?(e-?\d+)?", "#", text)[:150]


def phases(cfg: losstune.LoadedConfig, spec: BatchSpec) -> list[HeadCheck]:
    """``cfg``'s head held against the model at the batch's epoch, then at an epoch of each other
    phase of its training (TOODHead's epochs before ``initial_epoch`` and after)."""
    first = hold(cfg, spec)
    return [first, *(hold(cfg, replace(spec, epoch=epoch)) for _, epoch in first.others)]


def text_detector(
    cfg: losstune.LoadedConfig, spec: BatchSpec, options: tuple[str, ...] = ()
) -> tuple[losstune.LoadedConfig, BatchSpec, Path, str] | None:
    """For a config (loaded with the ``--cfg-options`` ``options``) whose model names a language
    model: the config again with it pointed at an offline random BERT (and fairscale's
    checkpointing off where fairscale is not installed), the batch with the class names as each
    sample's text, the BERT's folder, and where the names came from; ``None`` for any other config."""
    tree = cfg.to_dict()
    model = tree.get("model")
    if not offline_bert.names_language_model(model):
        return None
    from losstune.engine.realhead.importing import load_mmdet

    load_mmdet()
    head = model.get("bbox_head")
    num_classes = head.get("num_classes", 80) if isinstance(head, dict) else 80
    classes, source = offline_bert.prompt_classes(tree, num_classes if isinstance(num_classes, int) else 80)
    folder = offline_bert.write(offline_bert.words_of(classes))
    checkpointing = offline_bert.checkpointing_options(model)
    offline = [*options, *offline_bert.name_options(model, folder), *checkpointing]
    again = losstune.load(cfg.path, resolver=resolver(offline))
    if checkpointing:
        source += f"; {', '.join(checkpointing)} (fairscale is not installed; the loss is the same)"
    return again, replace(spec, text=classes), folder, source


def held(cfg: losstune.LoadedConfig, spec: BatchSpec) -> tuple[list[HeadCheck], str]:
    """:func:`phases` of ``cfg``, a text detector's with the offline BERT (see
    :func:`text_detector`), and how its language model was stood in for ("" for another)."""
    text = text_detector(cfg, spec)
    if text is None:
        return phases(cfg, spec), ""
    again, spec, folder, how = text
    with offline_bert.admitted(folder):
        return phases(again, spec), how


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("configs", type=Path, help="MMDetection's configs folder")
    parser.add_argument("--only", default="", help="comma-separated folders of it (all when empty)")
    parser.add_argument("--limit", type=int, default=0, help="at most this many configs (0: all)")
    parser.add_argument(
        "--names", type=Path, help="a file naming the configs to check (paths under the folder), one a line"
    )
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=int, default=120, help="seconds per config")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every config's terms")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # the comparison runs small batches: one thread each is as fast, on a shared machine
    signal.signal(signal.SIGALRM, _alarm)
    folders = {f for f in args.only.split(",") if f}
    files = sorted(
        p
        for p in args.configs.rglob("*.py")
        if "_base_" not in p.parts and (not folders or p.relative_to(args.configs).parts[0] in folders)
    )
    if args.names:
        wanted = set(args.names.read_text(encoding="utf-8").split())
        files = [p for p in files if str(p.relative_to(args.configs)) in wanted]
    if args.limit:
        files = files[: args.limit]
    table: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    why: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    how: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    not_run: collections.Counter[str] = collections.Counter()
    offline: collections.Counter[str] = collections.Counter()  # the text detectors' stand-in, by source
    stood_for: dict[str, str] = {}  # by the model dict: how its language model was stood in for
    done: dict[str, list[HeadCheck] | str] = {}  # by the model dict: configs that differ elsewhere only run once
    distinct = 0
    start = time.perf_counter()
    seen = 0  # configs done (an interrupt, Ctrl-C or SIGINT, prints the figures so far)
    try:
        for path in files:
            seen += 1
            name = str(path.relative_to(args.configs))
            began = time.perf_counter()
            try:
                cfg = losstune.load(path)
                tree = cfg.to_dict()
                model = json.dumps(tree.get("model"), sort_keys=True, default=repr)
                if offline_bert.names_language_model(tree.get("model")):  # its prompt: the dataset's classes
                    model += json.dumps(tree.get("train_dataloader"), sort_keys=True, default=repr)
                if model not in done:
                    distinct += 1
                    signal.alarm(args.timeout)
                    try:
                        done[model], stood_for[model] = held(cfg, BatchSpec(seed=args.seed, size=args.image_size))
                    finally:
                        signal.alarm(0)
                found = done[model]
            except HeadFailed as e:
                found = _reason(str(e))
                done[model] = found
            except TimedOut:
                found = done[model] = f"took more than {args.timeout} s"
            except (
                Exception
            ) as e:  # a config losstune cannot load, a head the comparison cannot read: said, the rest go on
                found = _reason(f"{type(e).__name__}: {e}")
            print(
                f"{name}: {found if isinstance(found, str) else 'compared'} ({time.perf_counter() - began:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
            if isinstance(found, str):
                not_run[found] += 1
                continue
            if stood_for.get(model):
                offline[stood_for[model]] += 1
            for checked in found:
                family = checked.family or f"{checked.head_type} (not modelled)"
                family += f" ({checked.phase} phase)" if checked.phase else ""
                row = table[family]
                row["configs"] += 1
                for t in checked.terms:
                    row["terms"] += 1
                    row["approximate"] += t.approximate
                    for aspect, ok in zip(ASPECTS, (t.shape_ok, t.avg_ok, t.scale_ok, t.value_ok), strict=True):
                        row[aspect] += ok
                    for reason in t.why:
                        why[family][_reason(f"{t.term.split('.')[-1]}: {reason}")] += 1
                for key, reason in checked.skipped.items():
                    why[family][_reason(f"not compared: {key.split('.')[-1]}: {reason}")] += 1
                for note in checked.stood_in:
                    why[family][f"computed in PyTorch: {note}"] += 1
                if checked.one_process:
                    why[family][_reason(checked.one_process)] += 1
                if checked.compared_on:
                    how[family][checked.compared_on] += 1
                for t in checked.terms:
                    if t.replayed is not None:
                        same = abs(t.replayed - t.real.value) <= 1e-4 * max(abs(t.real.value), 1e-12)
                        row["replay"] += same
                        row["replayed"] += 1
                if args.verbose:
                    print(name, family)
                    for t in checked.terms:
                        replay = (
                            ""
                            if t.replayed is None
                            else f" (on the head's own inputs {t.replayed:.6g}, the head {t.real.value:.6g})"
                        )
                        print(f"  {t.term}: {'agree' if not t.why else '; '.join(t.why)}{replay}")
    except KeyboardInterrupt:
        seen -= 1
    seconds = time.perf_counter() - start
    print(
        f"{seen} of {len(files)} configs ({distinct} distinct models, each run once) in {seconds:.0f} s; "
        f"image {args.image_size}×{args.image_size} (a head built for one input size at it), seed {args.seed}"
    )
    header = f"{'family':32} {'configs':>7} {'terms':>6}" + "".join(f" {a:>6}" for a in ASPECTS) + "  approx."
    print(header)
    totals: collections.Counter[str] = collections.Counter()
    for family in sorted(table):
        row = table[family]
        totals.update(row)
        print(
            f"{family:32} {row['configs']:>7} {row['terms']:>6}"
            + "".join(f" {row[a]:>6}" for a in ASPECTS)
            + f"  {row['approximate']:>6}"
        )
    print(
        f"{'all':32} {totals['configs']:>7} {totals['terms']:>6}"
        + "".join(f" {totals[a]:>6}" for a in ASPECTS)
        + f"  {totals['approximate']:>6}"
    )
    print("(columns: terms agreeing in each aspect)")
    for family in sorted(how):
        row = table[family]
        replay = (
            f"; the model's term on those arguments equals the head's (rtol 1e-4) for {row['replay']} of "
            f"{row['replayed']} terms"
            if row["replayed"]
            else ""
        )
        print(f"{family}: compared on {', '.join(how[family])}{replay}")
    for family in sorted(why):
        print(f"{family}: where they differ")
        for reason, n in why[family].most_common(8):
            print(f"  {n:5} × {reason}")
    if offline:
        print(
            f"text detectors: an offline random BERT in place of their language model (benchmarks/offline_bert.py: "
            f"{offline_bert.LAYERS} layers of bert-base-uncased's width, a vocabulary of the classes' words, random "
            "weights; losstune itself refuses from_pretrained), the prompt of their classes as each sample's text"
        )
        for reason, n in offline.most_common(8):
            print(f"  {n:5} × {reason}")
    print(f"heads that do not run here: {sum(not_run.values())} configs")
    for reason, n in not_run.most_common(12):
        print(f"  {n:5} × {reason}")


if __name__ == "__main__":
    main()
