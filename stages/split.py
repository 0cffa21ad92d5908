"""split: the SSMLL labeled/unlabeled assignment of the training pool and its class priors."""

from __future__ import annotations

from pathlib import Path

import typer

from ssmll.core.files import write_json
from ssmll.data.split import SplitConfig, class_priors, labeled_split, write_labeled_split
from ssmll.data.tables import multihot, read_classes, read_split
from stages._cli import PARAMS_OPTION, PREPARED_OPTION, app, read_config, user_errors

cli = app(__doc__)


@cli.command()
@user_errors
def main(
    params: Path = PARAMS_OPTION,
    prepared: Path = PREPARED_OPTION,
    out: Path = typer.Option(Path("data/split"), help="Output directory."),
    metrics: Path = typer.Option(Path("metrics/split.json"), help="Split summary file."),
) -> None:
    """Label the first int(lb_ratio * n) images of RandomState(seed).permutation(n)."""
    cfg = read_config(params, "split", SplitConfig)
    classes, _ = read_classes(prepared)
    train = read_split(prepared, "train")
    split = labeled_split(train.column("image_id").to_pylist(), cfg.lb_ratio, cfg.seed)
    y = multihot(train.column("labels"), len(classes))
    priors = class_priors(y[split.labeled])
    missing = [c for c, p in zip(classes, priors) if p == 0]
    if missing:
        typer.echo(
            f"warning: no labeled positive for {', '.join(missing)}; raise split.lb_ratio or change split.seed",
            err=True,
        )
    write_labeled_split(out, split, classes, priors)
    summary = {
        "lb_ratio": cfg.lb_ratio,
        "seed": cfg.seed,
        "labeled": int(split.labeled.sum()),
        "unlabeled": int((~split.labeled).sum()),
        "classes_without_labeled_positive": missing,
    }
    write_json(summary, metrics)
    typer.echo(f"split: {summary['labeled']} labeled, {summary['unlabeled']} unlabeled")


if __name__ == "__main__":
    cli()
