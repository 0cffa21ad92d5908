"""prepare: build the dataset tables (data/prepared/) and metrics/data.json."""

from __future__ import annotations

from pathlib import Path

import typer

from stages._cli import PARAMS_OPTION, app, load_params, user_errors
from ssmll.datasets import build_source
from ssmll.io import write_json
from ssmll.prepared import summarize, write_prepared

cli = app(__doc__)


@cli.command()
@user_errors
def main(
    params: Path = PARAMS_OPTION,
    out: Path = typer.Option(Path("data/prepared"), help="Output directory for the tables."),
    metrics: Path = typer.Option(Path("metrics/data.json"), help="Dataset summary file."),
) -> None:
    """Read the dataset named by data.source and write one Parquet table per split."""
    data = load_params(params, "data")["data"]
    source = data.get("source", "digits")
    ds = build_source(source, {"seed": data.get("seed", 0), **(data.get(source) or {})})
    write_prepared(ds, out)
    write_json({"source": source, **summarize(ds)}, metrics)
    sizes = ", ".join(f"{k}: {t.num_rows}" for k, t in ds.tables.items())
    typer.echo(f"prepared {source}: {sizes} images, {len(ds.skipped)} skipped")


if __name__ == "__main__":
    cli()
