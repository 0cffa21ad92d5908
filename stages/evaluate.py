"""evaluate: score every variant on the test set; write metrics/eval/<variant>.json, a report, predictions and plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from ssmll.core.files import write_json, write_parquet, write_text
from ssmll.evaluation.metrics import TAIL_KEY, tail_classes
from ssmll.evaluation.scoring import (
    ORACLES,
    EvaluateConfig,
    evaluation_scorers,
    headline,
    per_class_ap_csv,
    pr_curves_csv,
    predictions_table,
    report,
    score_variants,
    variant_results,
)
from ssmll.evaluation.workspace import load_workspace
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
    models: Path = typer.Option(Path("data/models"), help="Directory with method.pt and supervised.pt."),
    out: Path = typer.Option(Path("data/evaluate"), help="Directory for predictions.parquet."),
    metrics: Path = typer.Option(Path("metrics/eval"), help="Directory for one metrics file per variant."),
    report_file: Path = typer.Option(
        Path("metrics/eval_report.json"), "--report", help="How the metrics were computed; precision and recall."
    ),
    plots: Path = typer.Option(
        Path("metrics/plots"), help="Directory for per-class AP and the precision-recall curves."
    ),
    device: str = DEVICE_OPTION,
) -> None:
    """Evaluate every variant on the whole test set: baselines, the untrained module, supervised, method.

    ``linear_probe_all_labels`` is an oracle (it sees the hidden labels of the unlabeled
    part): it shows the room that labels leave above zero-shot, and nothing is chosen by it.
    """
    cfg = read_config(params, "evaluate", EvaluateConfig)
    dev = resolve_device(device)
    ws = load_workspace(prepared, features, split_dir, train_views=1, device=dev)
    test = ws.test
    method = load_bundle(models / "method.pt").model.to(dev)
    supervised = load_bundle(models / "supervised.pt").model.to(dev)
    trained = {"supervised": supervised, "method": method}
    scorers = evaluation_scorers(ws.train, np.flatnonzero(ws.labeled), ws.text, trained, method.cfg, cfg.linear_probe_c)
    scores, thresholds = score_variants(scorers, test, ws.train, ws.labeled, ws.priors)
    tail = tail_classes(ws.priors)
    results = variant_results(test.y, scores, thresholds, tail)
    write_parquet(predictions_table(ws.test_ids, scores), out / "predictions.parquet")
    write_text(per_class_ap_csv(test.y, scores, ws.classes), plots / "per_class_ap.csv")
    write_text(pr_curves_csv(test.y, scores), plots / "pr_curves.csv")
    for name, result in results.items():
        write_json(headline(result), metrics / f"{name}.json")
        tail_text = f"  tail mAP {result[TAIL_KEY]:.2f}" if TAIL_KEY in result else ""
        typer.echo(f"{name:>24}: mAP {result['mAP']:.2f}  CF1 {result['CF1']:.2f}  OF1 {result['OF1']:.2f}{tail_text}")
    oracles = {name: note for name, note in ORACLES.items() if name in scores}
    write_json({**report(test.y, results, ws.classes, tail), "oracle_variants": oracles}, report_file)


if __name__ == "__main__":
    cli()
