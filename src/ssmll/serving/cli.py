"""The ``ssmll`` command: use a trained model outside the pipeline.

``ssmll predict MODEL INPUT... --output FILE`` labels image files, folders and manifests
with a model bundle that the train stage wrote (``data/models/method.pt``);
``ssmll export-images`` writes prepared images out as files (e.g. a few test scenes).
"""

from __future__ import annotations

from pathlib import Path

import typer

from ssmll.core.cli_support import BATCH_SIZE_OPTION, DEVICE_OPTION, WORKERS_OPTION, resolve_device, user_errors
from ssmll.core.errors import UserError
from ssmll.core.runtime import Runtime
from ssmll.data.tables import export_images
from ssmll.serving.bundle import load_bundle
from ssmll.serving.predictor import OUTPUT_FORMATS, decide, find_images, predict_images, write_predictions

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help=(
        "Use a trained ssmll model outside the pipeline: label new images (predict); "
        "write prepared images out as files (export-images)."
    ),
)

#: How many unreadable images the warnings name.
LISTED = 20


@app.command()
@user_errors
def predict(
    model: Path = typer.Argument(..., help="Model bundle written by the train stage (data/models/method.pt)."),
    inputs: list[Path] = typer.Argument(
        ...,
        help="Image files, folders (searched recursively) or manifests (.csv, .jsonl, .parquet with a path column).",
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Predictions file: .csv, .jsonl or .parquet."),
    top_k: int = typer.Option(
        None,
        "--top-k",
        min=1,
        help="Label each image with its K highest-scoring classes (of those at --threshold or above, if given).",
    ),
    threshold: float = typer.Option(
        None, min=0.0, max=1.0, help="One score threshold for every class, instead of the model's class-wise ones."
    ),
    clip_weights: Path = typer.Option(
        None,
        help="The CLIP checkpoint the model was trained with, when it is not at its recorded path (checked by sha256).",
    ),
    batch_size: int = BATCH_SIZE_OPTION,
    workers: int = WORKERS_OPTION,
    device: str = DEVICE_OPTION,
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Label images: per image its path, predicted labels and every class score.

    Images are encoded exactly as the extract stage encodes them; unreadable ones are
    named on stderr and skipped.
    """
    if output.suffix.lower() not in OUTPUT_FORMATS:
        raise UserError(f"--output {output} should end in one of {', '.join(OUTPUT_FORMATS)}")
    rt = Runtime(resolve_device(device), batch_size, workers, progress)
    bundle = load_bundle(model)
    preds = predict_images(bundle, find_images(inputs), rt, str(clip_weights) if clip_weights else None)
    for path, why in preds.skipped[:LISTED]:
        typer.echo(f"warning: skipped {path}: {why}", err=True)
    if len(preds.skipped) > LISTED:
        typer.echo(f"warning: skipped {len(preds.skipped) - LISTED} more unreadable images", err=True)
    write_predictions(output, bundle.classes, preds, decide(bundle, preds.scores, top_k, threshold))
    skipped = f"; {len(preds.skipped)} unreadable, skipped" if preds.skipped else ""
    typer.echo(f"labeled {len(preds.paths)} images: {output}{skipped}")


@app.command("export-images")
@user_errors
def export_images_command(
    out: Path = typer.Argument(..., help="Folder to write the images and their labels.csv into."),
    prepared: Path = typer.Option(Path("data/prepared"), help="Prepared tables (the prepare stage's output)."),
    split: str = typer.Option("test", help="train or test."),
    limit: int = typer.Option(8, min=1, help="How many images (the split's first, by image id)."),
) -> None:
    """Write the first images of a prepared split as files, with a manifest of their true labels (labels.csv)."""
    written = export_images(prepared, split, out, limit)
    typer.echo(f"wrote {len(written)} images and labels.csv to {out}")


if __name__ == "__main__":
    app()
