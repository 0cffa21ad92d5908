"""pseudolabel: the trained model's labels for every unlabeled image, scored against the hidden truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from ssmll.core.files import write_json
from ssmll.data.tables import read_split
from ssmll.evaluation.metrics import f1_report
from ssmll.evaluation.workspace import load_workspace
from ssmll.method.pseudo import PseudoConfig, label_pool, teacher_view_count, write_pseudo_labels
from ssmll.serving.bundle import load_bundle
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


@cli.command()
@user_errors
def main(
    params: Path = PARAMS_OPTION,
    prepared: Path = PREPARED_OPTION,
    features: Path = FEATURES_OPTION,
    split_dir: Path = SPLIT_OPTION,
    model: Path = typer.Option(Path("data/models/method.pt"), help="Trained checkpoint."),
    out: Path = typer.Option(
        Path("data/pseudolabels"), help="Directory for pseudolabels.parquet and pseudolabels.csv."
    ),
    metrics: Path = typer.Option(Path("metrics/pseudo.json"), help="Pseudo-label quality: CF1 and OF1."),
    report_file: Path = typer.Option(
        Path("metrics/pseudo_report.json"),
        "--report",
        help="The rule, how many images and labels, and precision and recall (CP, CR, OP, OR).",
    ),
    device: str = DEVICE_OPTION,
) -> None:
    """Write pseudo-labels (with scores; as a CSV of label names) for the unlabeled part, and their quality."""
    cfg = read_config(params, "pseudo", PseudoConfig)
    dev = resolve_device(device)
    ws = load_workspace(prepared, features, split_dir, train_views=teacher_view_count(cfg), device=dev)
    net = load_bundle(model).model.to(dev)
    unl, lab = np.flatnonzero(~ws.labeled), np.flatnonzero(ws.labeled)
    probs, pseudo = label_pool(net, ws.train, unl, lab, ws.priors, cfg)  # as training labels them: one path
    positives = pseudo.positives
    paths = read_split(prepared, "train").column("path").to_pylist()
    write_pseudo_labels(out, [ws.train_ids[i] for i in unl], [paths[i] for i in unl], probs, positives, ws.classes)
    quality = {k: round(v, 4) for k, v in f1_report(ws.train.y[unl], positives).items()}
    write_json({k: quality[k] for k in ("CF1", "OF1")}, metrics)  # the F1s only: dvc metrics show stays 160 wide
    counts = {"unlabeled_images": int(len(unl)), "positives": int(positives.sum())}
    precision_recall = {k: v for k, v in quality.items() if k not in ("CF1", "OF1")}
    write_json({"rule": cfg.threshold, **counts, "precision_and_recall": precision_recall}, report_file)
    typer.echo(f"pseudo-labels for {len(unl)} images: CF1 {quality['CF1']:.2f} OF1 {quality['OF1']:.2f}")


if __name__ == "__main__":
    cli()
