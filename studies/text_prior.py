"""Would the trained model do better keeping CLIP's zero-shot scores for the classes with few labels?

Training on a handful of positives pulls a rare class below its zero-shot AP
(docs/semi-supervised.md, "Why the tail gains less"). This study measures the obvious fix
within the protocol: cross-validation on the labeled part (``method_table.py --on
labeled``'s folds, split seed 1). Each trained variant's class logits are blended per
class with CLIP's zero-shot scores, ``(1 - w_k) logit_k + w_k zs_k``, with ``w_k = s / (s +
n_k)``, ``s = strength x skill`` (the co-teacher's weighting, :mod:`ssmll.method.coteacher`)
and ``zs_k`` the zero-shot scores mapped onto the logits' mean and spread over the
training pool (no label read). The zero-shot scores are CLIP's label-specific read-out
(``AlignmentModel.zero_shot``, the co-teacher's), or with ``--prior global`` the whole
image's cosines. The blend is post hoc, so one training per fold scores every strength.
Prints held-out mAP (and tail mAP) per ratio, variant and strength.

    python studies/text_prior.py --data /tmp/w-tail/data --params /tmp/w-tail/params.yaml [--prior global]
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path

import numpy as np
import torch
import typer
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ssmll.encoding.zeroshot import zeroshot_scores  # noqa: E402
from ssmll.evaluation.experiment import FOLDS, Settings, labeled_part, labeled_rows  # noqa: E402
from ssmll.evaluation.metrics import mean_ap, tail_classes, tail_map  # noqa: E402
from ssmll.evaluation.workspace import Workspace, load_workspace  # noqa: E402
from ssmll.method.coteacher import class_weights  # noqa: E402
from ssmll.method.featureset import FeatureSet, map_batches  # noqa: E402
from ssmll.method.model import AlignmentModel  # noqa: E402
from ssmll.method.variants import train_variant  # noqa: E402

#: "all" stands for w_k = 1: the zero-shot scores alone.
STRENGTHS = ("0", "5", "10", "40", "160", "all")


#: What the logits are blended with: the co-teacher's label-specific scores, or the whole image's cosines.
Prior = Enum("Prior", {name: name for name in ("model", "global")}, type=str)  # type: ignore[misc]


def calibrated(zero_shot: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """Each class's zero-shot cosines moved to its logits' mean and standard deviation over the same rows."""
    scale = logits.std(0) / np.maximum(zero_shot.std(0), 1e-12)
    return scale * (zero_shot - zero_shot.mean(0)) + logits.mean(0)


def blended(logits: np.ndarray, zero_shot: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return (1.0 - weights) * logits + weights * zero_shot


def main(
    data: Path = typer.Option(Path("data"), help="The pipeline's data directory (after the split stage)."),
    params: Path = typer.Option(Path("params.yaml"), help="Params file."),
    ratios: str = typer.Option("0.02,0.05,0.2", help="Labeled ratios."),
    seed: int = typer.Option(1, help="split.seed."),
    prior: Prior = typer.Option(
        "model", help="model (the co-teacher's label-specific scores) or global (whole-image cosines)."
    ),
) -> None:
    """Held-out mAP of the labeled part's folds per ratio, variant and text-prior strength."""
    torch.set_num_threads(1)
    ws = load_workspace(data / "prepared", data / "features", data / "split")
    settings = Settings.from_params(yaml.safe_load(params.read_text()))
    zero_shot = _prior_scores(ws, settings, prior)
    typer.echo("| ratio | variant | " + " | ".join(f"s={s}" for s in STRENGTHS) + " |")
    typer.echo("|---|---|" + "---|" * len(STRENGTHS))
    for ratio in (float(r) for r in ratios.split(",")):
        folds = [_fold_scores(ws, settings, zero_shot, ratio, seed, fold) for fold in range(FOLDS)]
        for name in folds[0]:
            cells = [_cell([f[name][i] for f in folds]) for i in range(len(STRENGTHS))]
            typer.echo(f"| {ratio} | {name} | " + " | ".join(cells) + " |")


def _prior_scores(ws: Workspace, settings: Settings, prior: str) -> np.ndarray:
    """The training pool's zero-shot scores the logits are blended with: the co-teacher's, or the whole image's."""
    if prior == "global":
        return zeroshot_scores(ws.train.global_array(), ws.text)
    no_contexts = torch.zeros(len(ws.text), 0)  # the class scores do not depend on the contexts
    return _logits(AlignmentModel(torch.from_numpy(ws.text), no_contexts, settings.model).zero_shot(), ws.train)


def _fold_scores(
    ws: Workspace, settings: Settings, zero_shot: np.ndarray, ratio: float, seed: int, fold: int
) -> dict[str, list[tuple[float, float | None]]]:
    """Per trained variant, the held-out fold's (mAP, tail mAP) at each of :data:`STRENGTHS`."""
    labeled, held = labeled_rows(ws.train_ids, ratio, seed, fold)
    part = labeled_part(ws, labeled, settings.contexts)
    y_lab, y_held, tails = ws.train.y[labeled], ws.train.y[held], tail_classes(part.priors)
    out = {}
    for name in ("supervised", "method"):
        result = train_variant(name, ws.train, ws.text, part, settings.model, settings.train, settings.pseudo)
        logits = _logits(result.model, ws.train)
        zs = calibrated(zero_shot, logits)
        out[name] = []
        for s in STRENGTHS:
            w = np.ones(len(ws.text)) if s == "all" else class_weights(zero_shot[labeled], y_lab, float(s))
            scores = blended(logits, zs, w)[held]
            out[name].append((mean_ap(y_held, scores), tail_map(y_held, scores, tails)))
    return out


@torch.inference_mode()
def _logits(model: torch.nn.Module, feats: FeatureSet) -> np.ndarray:
    model.eval()
    return map_batches(lambda g, loc: model(g, loc)[0], feats)


def _cell(values: list[tuple[float, float | None]]) -> str:
    tails = [t for _, t in values if t is not None]
    tail = f" (tail {np.mean(tails):.2f})" if tails else ""
    return f"{np.mean([m for m, _ in values]):.2f}{tail}"


if __name__ == "__main__":
    typer.run(main)
