"""train: fit the alignment model on cached features (the method, or its labeled-only baseline).

Writes ``data/models/<variant>.pt``, a model bundle that labels new images on its own
(``ssmll predict``): weights, the encoder record, class names, contexts and class-wise
decision thresholds set on the unlabeled part's scores and the labeled priors.

``--variant method`` trains semi-supervised (warm-up on labeled data, then EMA-teacher
pseudo-labels on the unlabeled part, plus the context task); ``--variant supervised``
runs the same model and schedule on the labeled part only, with the classification loss
alone, as the reference the method must beat.

``--device`` (or SSMLL_DEVICE) picks where the features, the model and its EMA teacher
live; the default is a GPU when there is one. On CPU the results do not depend on it;
on a GPU they may differ from CPU in their last bits.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from enum import Enum
from pathlib import Path

import numpy as np
import torch
import typer

from ssmll.core.files import rows_csv, write_json, write_text
from ssmll.evaluation.average_precision import mean_ap
from ssmll.evaluation.workspace import load_workspace
from ssmll.method.contexts import context_groups, read_membership
from ssmll.method.featureset import FeatureSet, predict
from ssmll.method.model import ModelConfig
from ssmll.method.pseudo import PseudoConfig
from ssmll.method.thresholds import decision_thresholds
from ssmll.method.trainer import TrainConfig
from ssmll.method.variants import VARIANTS, LabeledPart, train_params, train_variant
from ssmll.serving.bundle import Bundle, save_bundle
from stages._cli import (
    DEVICE_OPTION,
    FEATURES_OPTION,
    PARAMS_OPTION,
    PREPARED_OPTION,
    SPLIT_OPTION,
    app,
    read_config,
    resolve_device,
    user_errors,
)

cli = app(__doc__)

Variant = Enum("Variant", {name: name for name in VARIANTS}, type=str)  # type: ignore[misc]


@cli.command()
@user_errors
def main(
    variant: Variant = typer.Option("method", help="method (semi-supervised) or supervised (labeled only)."),
    params: Path = PARAMS_OPTION,
    prepared: Path = PREPARED_OPTION,
    features: Path = FEATURES_OPTION,
    split_dir: Path = SPLIT_OPTION,
    contexts: Path = typer.Option(Path("data/contexts/contexts.json"), help="Class-to-context assignment."),
    out: Path = typer.Option(Path("data/models"), help="Directory for <variant>.pt."),
    metrics_dir: Path = typer.Option(Path("metrics"), help="Directory for the train metrics and curves."),
    threads: int = typer.Option(0, min=0, help="Torch CPU threads (0: torch's default)."),
    device: str = DEVICE_OPTION,
) -> None:
    """Train and write the checkpoint, the train metrics and per-epoch curves."""
    model_cfg = read_config(params, "model", ModelConfig)
    cfg = read_config(params, "train", TrainConfig)
    semi = VARIANTS[variant.value].semi
    pseudo = read_config(params, "pseudo", PseudoConfig) if semi else PseudoConfig()
    dev = resolve_device(device)
    if threads:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    ws = load_workspace(prepared, features, split_dir, device=dev)
    _log_loaded(ws.train, ws.test, dev, time.perf_counter() - start)
    membership = read_membership(contexts, ws.classes)
    part = LabeledPart(ws.labeled, ws.priors, membership)
    start = time.perf_counter()
    result = train_variant(
        variant.value, ws.train, ws.text, part, model_cfg, cfg, pseudo, test=ws.test, log=_EpochLog()
    )
    seconds = time.perf_counter() - start
    suffix = "" if variant.value == "method" else f"_{variant.value}"
    lab = np.flatnonzero(ws.labeled)
    training = {
        "variant": variant.value,
        "model": asdict(model_cfg),
        "train": {k: v for k, v in asdict(cfg).items() if k in train_params(variant.value)},  # as dvc.yaml tracks them
        **({"pseudo": asdict(pseudo)} if semi else {}),
        "history": result.history,
        "best_epoch": result.best_epoch,
    }
    bundle = Bundle(
        model=result.model,
        encoder=ws.encoder,
        classes=ws.classes,
        prompt_names=ws.prompt_names,
        contexts=context_groups(membership, ws.classes),
        thresholds=decision_thresholds(lambda rows: predict(result.model, ws.train, rows), ws.labeled, ws.priors),
        training=training,
    )
    save_bundle(out / f"{variant.value}.pt", bundle)
    final = result.history[-1]
    summary = {
        "variant": variant.value,
        "epochs": cfg.epochs,
        "final_loss": final["loss"],
        "labeled_mAP": round(mean_ap(ws.train.y[lab], predict(result.model, ws.train, lab)), 4),
        "selected_on_test": cfg.select_on_test,
        **({"best_epoch": result.best_epoch + 1} if cfg.select_on_test else {}),
        **{k: final[k] for k in ("pseudo_precision", "pseudo_recall") if k in final},
    }
    write_json(summary, metrics_dir / f"train{suffix}.json")
    write_text(_curves_csv(result.history), metrics_dir / "plots" / f"train_curves{suffix}.csv")
    typer.echo(f"trained {variant.value} in {seconds:.0f} s: labeled mAP {summary['labeled_mAP']:.2f}")


def _log_loaded(train: FeatureSet, test: FeatureSet, device: str, seconds: float) -> None:
    gb = (train.nbytes + test.nbytes) / 2**30
    typer.echo(f"loaded features of {len(train)} + {len(test)} images ({gb:.2f} GB fp16) in {seconds:.1f} s", err=True)
    if not train.on_device:
        typer.echo(
            f"warning: the features do not fit on {device}; they stay in host memory, batches are copied", err=True
        )


class _EpochLog:
    """One line per epoch on stderr, with its wall time (not in the curves: those stay deterministic)."""

    def __init__(self) -> None:
        self.last = time.perf_counter()

    def __call__(self, row: dict) -> None:
        now = time.perf_counter()
        extras = "".join(f" {k} {row[k]:.1f}" for k in ("pseudo_precision", "pseudo_recall", "test_mAP") if k in row)
        line = f"epoch {row['epoch']:>3} [{row['phase']}] loss {row['loss']:.4f}{extras} {now - self.last:.2f} s"
        typer.echo(line, err=True)
        self.last = now


def _curves_csv(history: list[dict]) -> str:
    """One row per epoch; the epoch first, then every other key in name order."""
    return rows_csv(history, sorted({k for row in history for k in row}, key=lambda k: (k != "epoch", k)))


if __name__ == "__main__":
    cli()
