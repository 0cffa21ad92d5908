"""evaluate: score every variant on the test set; write metrics/eval.json, predictions and plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import typer

from stages._cli import PARAMS_OPTION, app, load_params, user_errors
from ssmll.baselines import linear_probe_scores, zeroshot_scores
from ssmll.evaluation import per_class_ap_csv, predictions_table, report
from ssmll.features import read_image_features, read_text_features
from ssmll.io import read_json, write_json, write_parquet, write_text
from ssmll.prepared import multihot, read_classes, read_split

cli = app(__doc__)


@cli.command()
@user_errors
def main(
    params: Path = PARAMS_OPTION,
    prepared: Path = typer.Option(Path("data/prepared"), help="Prepared tables."),
    features: Path = typer.Option(Path("data/features"), help="Extracted features."),
    split_dir: Path = typer.Option(Path("data/split"), "--split", help="Split assignment and priors."),
    out: Path = typer.Option(Path("data/evaluate"), help="Directory for predictions.parquet."),
    metrics: Path = typer.Option(Path("metrics/eval.json"), help="Metrics file."),
    plots: Path = typer.Option(Path("metrics/plots"), help="Directory for per-class AP."),
) -> None:
    """Evaluate zero-shot CLIP and a linear probe on the labeled part, on the whole test set."""
    ev = load_params(params, "evaluate")["evaluate"]
    classes, _ = read_classes(prepared)
    test = read_split(prepared, "test")
    y_test = multihot(test.column("labels"), len(classes))
    train = read_split(prepared, "train")
    labeled = pq.read_table(split_dir / "split.parquet").column("labeled").to_numpy()
    priors = np.asarray(read_json(split_dir / "priors.json")["priors"])
    y_lab = multihot(train.column("labels"), len(classes))[labeled]

    text = read_text_features(features).astype(np.float32)
    test_f = read_image_features(features, "test", views=1)
    train_f = read_image_features(features, "train", views=1)
    g_test = test_f.global_[:, 0].astype(np.float32)
    scores = {
        "zeroshot": zeroshot_scores(g_test, text),
        "linear_probe": linear_probe_scores(
            train_f.global_[labeled, 0].astype(np.float32), y_lab, g_test, c=float(ev["linear_probe_c"])
        ),
    }
    result = report(y_test, scores, priors, classes)
    write_parquet(predictions_table(test_f.image_ids, scores), out / "predictions.parquet")
    write_text(per_class_ap_csv(y_test, scores, classes), plots / "per_class_ap.csv")
    write_json(result, metrics)
    for name in scores:
        typer.echo(f"{name:>24}: mAP {result[name]['mAP']:.2f}  CF1 {result[name]['CF1']:.2f}  OF1 {result[name]['OF1']:.2f}")


if __name__ == "__main__":
    cli()
