"""contexts: class co-occurrence on the labeled part, cut into K contexts by spectral clustering."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import typer

from stages._cli import (
    FEATURES_OPTION,
    PARAMS_OPTION,
    PREPARED_OPTION,
    SPLIT_OPTION,
    app,
    read_config,
    user_errors,
)
from ssmll.contexts import ContextsConfig, agreement_with_groups, find_contexts
from ssmll.features import read_text_features
from ssmll.io import read_json, write_json, write_text
from ssmll.prepared import multihot, read_classes, read_split

cli = app(__doc__)


@cli.command()
@user_errors
def main(
    params: Path = PARAMS_OPTION,
    prepared: Path = PREPARED_OPTION,
    features: Path = FEATURES_OPTION,
    split_dir: Path = SPLIT_OPTION,
    data_metrics: Path = typer.Option(Path("metrics/data.json"), help="Dataset summary (generator groups, if any)."),
    out: Path = typer.Option(Path("data/contexts/contexts.json"), help="Class-to-context assignment."),
    matrix: Path = typer.Option(Path("metrics/plots/cooccurrence.csv"), help="Co-occurrence heat map data."),
    metrics: Path = typer.Option(Path("metrics/contexts.json"), help="Contexts summary."),
) -> None:
    """Find label contexts from the labeled part's co-occurrence."""
    cfg = read_config(params, "contexts", ContextsConfig)
    classes, _ = read_classes(prepared)
    train = read_split(prepared, "train")
    labeled = pq.read_table(split_dir / "split.parquet").column("labeled").to_numpy()
    y = multihot(train.column("labels"), len(classes))[labeled]
    text = read_text_features(features).astype(np.float32)
    ctx = find_contexts(y, text, cfg.k, cfg.smoothing, cfg.seed)
    groups = [[classes[i] for i in np.flatnonzero(ctx.assignment == j)] for j in range(ctx.k)]
    summary: dict = {
        "k": ctx.k,
        "contexts": groups,
        "classes_from_text_similarity": [classes[i] for i in ctx.fallback],
    }
    hidden = (read_json(data_metrics).get("digits") or {}).get("groups") if data_metrics.is_file() else None
    if hidden:
        summary["adjusted_rand_index"] = round(agreement_with_groups(ctx.assignment, hidden), 4)
    write_text(_matrix_csv(ctx.affinity, classes), matrix)
    write_json({"classes": classes, "assignment": ctx.assignment.tolist(), "contexts": groups}, out)
    write_json(summary, metrics)
    typer.echo(f"contexts: {groups}" + (f" (ARI vs generator groups {summary['adjusted_rand_index']})" if hidden else ""))


def _matrix_csv(a: np.ndarray, classes: list[str]) -> str:
    """Long format (row, column, affinity) for DVC's heat map template."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["class", "with", "affinity"])
    for i, ci in enumerate(classes):
        for j, cj in enumerate(classes):
            w.writerow([ci, cj, f"{a[i, j]:.4f}"])
    return buf.getvalue()


if __name__ == "__main__":
    cli()
