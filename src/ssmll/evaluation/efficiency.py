"""The label-efficiency study: every variant for each labeled ratio and split seed, and what they add up to.

``studies/label_efficiency.py`` (the sub-pipeline ``studies/label-efficiency/dvc.yaml``) runs
one cell per (ratio, seed) (:func:`run_cell`) and the all-labels oracles once
(:func:`run_oracles`) with the library calls the stages make
(:mod:`ssmll.evaluation.experiment`), so that a point of the curve is what ``dvc repro`` with
that ``split.lb_ratio`` and ``split.seed`` gives; then :func:`summarize` takes mean ± std
over seeds, one metrics record per ratio and variant, and :func:`curve_csv` lays them out
for ``dvc plots``, the oracles repeated at every ratio so that they draw as horizontal lines.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

import numpy as np

from ssmll.data.split import class_priors
from ssmll.evaluation.experiment import Settings, VariantScore, labeled_rows, run_baselines, run_oracle, run_variant
from ssmll.evaluation.metrics import TAIL_KEY, tail_classes
from ssmll.evaluation.scoring import ORACLES
from ssmll.evaluation.workspace import Workspace

#: The variants of a cell, in the order the curve lists them: the baselines, then the trained ones.
BASELINES = ("zeroshot", "zeroshot_label_specific", "linear_probe")
TRAINED = ("supervised", "method")
VARIANTS = (*BASELINES, *TRAINED)

#: The columns of the curve's plot data (:func:`curve_csv`).
CURVE_COLUMNS = ("ratio", "variant", "kind", "mAP", "mAP_std", TAIL_KEY, f"{TAIL_KEY}_std")


def cell_name(ratio: float, seed: int) -> str:
    """A cell's file stem, as the sub-pipeline's matrix writes it (``0.05-1``)."""
    return f"{ratio:g}-{seed}"


def score_record(score: VariantScore) -> dict[str, float | None]:
    """A variant's score as a cell file holds it; tail mAP None where the labeled part has no rare class."""
    record = {"mAP": round(score.mAP, 4), TAIL_KEY: None if score.tail_mAP is None else round(score.tail_mAP, 4)}
    if score.pseudo_precision is not None:
        record |= {"pseudo_precision": round(score.pseudo_precision, 4), "pseudo_recall": round(score.pseudo_recall, 4)}
    return record


def run_cell(ws: Workspace, ratio: float, seed: int, settings: Settings) -> dict[str, Any]:
    """Every variant of :data:`VARIANTS` for one labeled ratio and split seed, scored on the test set."""
    labeled, _ = labeled_rows(ws.train_ids, ratio, seed)
    scores = run_baselines(ws, ratio, seed, settings)
    scores |= {name: run_variant(name, ws, ratio, seed, settings) for name in TRAINED}
    return {
        "ratio": ratio,
        "seed": seed,
        "labeled_images": int(labeled.sum()),
        "tail_classes": _names(ws.classes, tail_classes(class_priors(ws.train.y[labeled]))),
        "variants": {name: score_record(scores[name]) for name in VARIANTS},
    }


def run_oracles(ws: Workspace, settings: Settings) -> dict[str, Any]:
    """The oracles of :data:`~ssmll.evaluation.scoring.ORACLES`: every training label, independent of the ratio."""
    return {
        "tail_classes": _names(ws.classes, tail_classes(class_priors(ws.train.y))),
        "variants": {name: score_record(run_oracle(name, ws, settings)) for name in ORACLES},
    }


def _names(classes: list[str], mask: np.ndarray) -> list[str]:
    return [c for c, m in zip(classes, mask) if m]


def summarize(cells: Iterable[dict[str, Any]]) -> dict[float, dict[str, dict[str, float]]]:
    """Per ratio and variant, mean and std over seeds of mAP, and of the tail mAP over the seeds that have one.

    The records hold numbers only (they are DVC metrics): the tail keys are left out where no seed's
    labeled part has a rare class.
    """
    values: dict[float, dict[str, list[dict]]] = {}
    for cell in cells:
        for name, record in cell["variants"].items():
            values.setdefault(cell["ratio"], {}).setdefault(name, []).append(record)
    return {
        ratio: {name: _mean_std(by_variant[name]) for name in sorted(by_variant, key=_variant_order)}
        for ratio, by_variant in sorted(values.items())
    }


def _variant_order(name: str) -> tuple[int, str]:
    """:data:`VARIANTS` first, in their order (a cell file's keys are sorted), then any other by name."""
    return (VARIANTS.index(name) if name in VARIANTS else len(VARIANTS), name)


def _mean_std(records: list[dict]) -> dict[str, float]:
    out = {}
    for key in ("mAP", TAIL_KEY):
        xs = [r[key] for r in records if r.get(key) is not None]
        if xs:
            out |= {key: round(float(np.mean(xs)), 4), f"{key}_std": round(float(np.std(xs)), 4)}
    return out


def oracle_metrics(oracles: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Each oracle's metrics record: its mAP, and its tail mAP where the pool has rare classes."""
    return {name: {k: v for k, v in r.items() if v is not None} for name, r in oracles["variants"].items()}


def curve_csv(summary: dict[float, dict[str, dict[str, float]]], oracles: dict[str, dict[str, float]]) -> str:
    """The curve's plot data: one row per ratio and variant (kind ``variant``), and each oracle at every ratio
    (kind ``oracle``, std 0); a tail cell is empty where there is no tail mAP."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CURVE_COLUMNS)
    for ratio, by_variant in summary.items():
        rows = [(name, "variant", r) for name, r in by_variant.items()]
        rows += [(name, "oracle", {**r, **{f"{k}_std": 0.0 for k in r}}) for name, r in oracles.items()]
        for name, kind, r in rows:
            writer.writerow([f"{ratio:g}", name, kind, *(_number(r.get(c)) for c in CURVE_COLUMNS[3:])])
    return buf.getvalue()


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def table_markdown(summary: dict[float, dict[str, dict[str, float]]], cells: list[dict], oracles: dict) -> str:
    """The study as a Markdown table: test mAP mean ± std per variant and ratio, the tail mAP and the
    pseudo-labels' precision / recall (last epoch, mean over seeds) beside it where there are some."""
    ratios = list(summary)
    lines = [
        "| variant | " + " | ".join(f"{r:g}" for r in ratios) + " |",
        "|---|" + "---|" * len(ratios),
    ]
    for name in VARIANTS:
        lines.append(f"| {name} | " + " | ".join(_table_cell(summary[r].get(name, {}), cells, r, name) for r in ratios))
        lines[-1] += " |"
    for name, r in oracle_metrics(oracles).items():
        tail = f", tail {r[TAIL_KEY]:.2f}" if TAIL_KEY in r else ""
        lines.append(f"\n{name} (oracle: every training label, reported only): {r['mAP']:.2f}{tail}")
    return "\n".join(lines) + "\n"


def _table_cell(record: dict[str, float], cells: list[dict], ratio: float, name: str) -> str:
    if "mAP" not in record:
        return ""
    text = f"{record['mAP']:.2f} ± {record['mAP_std']:.2f}"
    if TAIL_KEY in record:
        text += f" (tail {record[TAIL_KEY]:.2f} ± {record[f'{TAIL_KEY}_std']:.2f})"
    pseudo = [c["variants"][name] for c in cells if c["ratio"] == ratio and "pseudo_precision" in c["variants"][name]]
    if pseudo:
        precision, recall = (np.mean([p[k] for p in pseudo]) for k in ("pseudo_precision", "pseudo_recall"))
        text += f" [{precision:.1f} / {recall:.1f}]"
    return text
