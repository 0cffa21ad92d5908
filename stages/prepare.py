"""prepare: build the dataset tables (data/prepared/), metrics/data.json and the class-frequency plot data.

Every image file a source lists is opened here; missing or corrupt ones are left out
and listed in metrics/data.json and data/prepared/skipped.csv.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ssmll.core.files import rows_csv, write_json, write_text
from ssmll.data.sources.registry import prepare
from ssmll.data.statistics import class_frequency, label_statistics
from ssmll.data.tables import summarize, write_prepared
from stages._cli import PARAMS_OPTION, app, load_params, user_errors

cli = app(__doc__)


@cli.command()
@user_errors
def main(
    params: Path = PARAMS_OPTION,
    out: Path = typer.Option(Path("data/prepared"), help="Output directory for the tables."),
    metrics: Path = typer.Option(Path("metrics/data.json"), help="Dataset summary file."),
    frequency_plot: Path | None = typer.Option(
        None, help="Per-class frequency plot data [default: plots/class_frequency.csv beside the summary file]."
    ),
    progress: bool = typer.Option(True, help="Show a progress bar while checking image files."),
) -> None:
    """Read the dataset named by data.source and write one Parquet table per split."""
    data = load_params(params, "data")["data"]
    ds = prepare(data, progress=progress)
    source = data["source"]
    write_prepared(ds, out)
    write_json({"source": source, **summarize(ds), "label_statistics": label_statistics(ds)}, metrics)
    rows = class_frequency(ds)
    write_text(rows_csv(rows, list(rows[0])), frequency_plot or metrics.parent / "plots" / "class_frequency.csv")
    sizes = ", ".join(f"{k}: {t.num_rows}" for k, t in ds.tables.items())
    typer.echo(f"prepared {source}: {sizes} images, {len(ds.skipped)} skipped (see {out / 'skipped.csv'})")


if __name__ == "__main__":
    cli()
