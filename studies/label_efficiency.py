"""The label-efficiency curve: how many labels a user needs, and what the unlabeled part buys.

The commands of the sub-pipeline ``studies/label-efficiency/dvc.yaml`` (``dvc repro
studies/label-efficiency/dvc.yaml``), thin over ``ssmll.evaluation.efficiency``. They read the
default pipeline's prepared tables and cached features (``data/``) and the method's params
from ``params.yaml``, and make each labeled split in memory as the split stage would:

    python studies/label_efficiency.py run --ratio 0.05 --seed 1 --out cell.json   # every variant, one cell
    python studies/label_efficiency.py run --oracles --out oracles.json              # the all-labels oracles
    python studies/label_efficiency.py aggregate                                     # metrics, plot data, table

What they write and where the plot is: docs/results.md (the label-efficiency curve).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch
import typer
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ssmll.core.files import read_json, write_json, write_text  # noqa: E402
from ssmll.evaluation.efficiency import (  # noqa: E402
    cell_name,
    curve_csv,
    oracle_metrics,
    run_cell,
    run_oracles,
    summarize,
    table_markdown,
)
from ssmll.evaluation.experiment import Settings  # noqa: E402
from ssmll.evaluation.workspace import load_workspace  # noqa: E402

STUDY = Path("studies/label-efficiency")

app = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0])


@app.command()
def run(
    out: Path = typer.Option(..., help="The cell's JSON file."),
    ratio: float = typer.Option(None, help="Labeled ratio (split.lb_ratio) of the cell."),
    seed: int = typer.Option(None, help="Split seed (split.seed) of the cell."),
    oracles: bool = typer.Option(False, "--oracles", help="Run the all-labels oracles instead of a cell."),
    data: Path = typer.Option(Path("data"), help="The default pipeline's data directory (prepared, features)."),
    params: Path = typer.Option(Path("params.yaml"), help="The method's params (model, train, pseudo, ...)."),
    threads: int = typer.Option(1, help="Torch CPU threads (a runtime knob: scores move in their last bits at most)."),
) -> None:
    """Every variant for one labeled ratio and split seed, or (--oracles) the oracles on every training label.

    One thread by default: on a shared 2-core machine torch's second thread spins more than it
    computes (docs/results.md, the label-efficiency curve), and DVC runs the cells one at a time.
    """
    if oracles == (ratio is not None or seed is not None) or (not oracles and (ratio is None or seed is None)):
        raise typer.BadParameter("give --ratio and --seed, or --oracles alone")
    torch.set_num_threads(threads)
    settings = Settings.from_params(yaml.safe_load(params.read_text()))
    ws = load_workspace(data / "prepared", data / "features", None)
    result = run_oracles(ws, settings) if oracles else run_cell(ws, ratio, seed, settings)
    write_json(result, out)
    for name, record in result["variants"].items():
        typer.echo(f"{name:>24}: " + "  ".join(f"{k} {v:.2f}" for k, v in record.items() if v is not None))


@app.command()
def aggregate(
    runs: Path = typer.Option(STUDY / "runs", help="The cells' and oracles' JSON files."),
    study_params: Path = typer.Option(STUDY / "params.yaml", "--params", help="The study's ratios and seeds."),
    metrics: Path = typer.Option(
        Path("metrics/label-efficiency"), help="One metrics file per ratio and variant, and per oracle."
    ),
    plot: Path = typer.Option(Path("metrics/plots/label_efficiency.csv"), help="The curve's plot data."),
    table: Path = typer.Option(STUDY / "table.md", help="The study as a Markdown table."),
) -> None:
    """Mean ± std over seeds per ratio and variant: DVC metrics, the curve's plot data and a Markdown table."""
    grid = yaml.safe_load(study_params.read_text())
    cells = [read_json(runs / f"{cell_name(r, s)}.json") for r in grid["ratios"] for s in grid["seeds"]]
    oracles = read_json(runs / "oracles.json")
    summary = summarize(cells)
    shutil.rmtree(metrics, ignore_errors=True)
    for ratio, by_variant in summary.items():
        for name, record in by_variant.items():
            write_json(record, metrics / f"{ratio:g}" / f"{name}.json")
    for name, record in oracle_metrics(oracles).items():
        write_json(record, metrics / f"{name}.json")
    write_text(curve_csv(summary, oracle_metrics(oracles)), plot)
    write_text(table_markdown(summary, cells, oracles), table)
    typer.echo(table.read_text())


if __name__ == "__main__":
    app()
