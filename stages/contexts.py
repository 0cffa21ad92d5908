"""contexts: class co-occurrence on the labeled part, cut into K contexts by spectral clustering."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from ssmll.core.files import write_json, write_text
from ssmll.data.split import read_labeled_split
from ssmll.data.tables import multihot, read_class_groups, read_classes, read_split
from ssmll.encoding.record import read_text_features
from ssmll.method.contexts import ContextsConfig, affinity_csv, agreement_with_groups, find_contexts, write_contexts
from stages._cli import (
    FEATURES_OPTION,
    PARAMS_OPTION,
    PREPARED_OPTION,
    SPLIT_OPTION,
    app,
    read_config,
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
    out: Path = typer.Option(Path("data/contexts/contexts.json"), help="Class-to-context assignment."),
    matrix: Path = typer.Option(Path("metrics/plots/cooccurrence.csv"), help="Co-occurrence heat map data."),
    metrics: Path = typer.Option(
        Path("metrics/contexts.json"),
        help="Agreement with the source's class groups, where it has them (ARI: adjusted Rand index).",
    ),
    report_file: Path = typer.Option(Path("metrics/contexts_report.json"), "--report", help="The contexts found."),
) -> None:
    """Find label contexts from the labeled part's co-occurrence."""
    cfg = read_config(params, "contexts", ContextsConfig)
    classes, _ = read_classes(prepared)
    train = read_split(prepared, "train")
    split = read_labeled_split(split_dir, train.column("image_id").to_pylist(), classes)
    y = multihot(train.column("labels"), len(classes))[split.labeled]
    text = read_text_features(features).astype(np.float32)
    ctx = find_contexts(y, text, cfg.k, cfg.smoothing, cfg.seed)
    summary: dict = {
        "k": ctx.k,
        "contexts": ctx.groups(classes),
        "classes_from_text_similarity": [classes[i] for i in ctx.fallback],
    }
    hidden = read_class_groups(prepared)
    agreement = {"ARI": round(agreement_with_groups(ctx.assignment, hidden), 4)} if hidden else {}
    write_text(affinity_csv(ctx.affinity, classes), matrix)
    write_contexts(out, ctx, classes)
    write_json(agreement, metrics)
    write_json(summary, report_file)
    ari = f" (ARI vs the source's groups {agreement['ARI']})" if hidden else ""
    typer.echo(f"contexts: {summary['contexts']}{ari}")


if __name__ == "__main__":
    cli()
