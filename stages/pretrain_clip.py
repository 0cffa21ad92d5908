"""pretrain_clip: train an embedded CLIP and write its fp16 weights.

Runs once per model folder (models/objects-clip/, models/digit-clip/): its outputs ship with
the repository, and the folder's own pipeline file keeps it traceable; `dvc repro` finds it
up to date. Rebuild with `dvc repro -f -s models/<name>/dvc.yaml:pretrain_clip` (`-s`: this
stage alone, not the warm start upstream; time and conditions: docs/embedded-clip.md); on
this kind of machine the weights come out byte for byte the same.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
import typer

from ssmll.core.files import rows_csv, sha256, write_json, write_text
from ssmll.data.scenes.vocabulary import vocabulary
from ssmll.encoding.clip import load_clip
from ssmll.pretrain.corpus import CorpusConfig, build_corpus
from ssmll.pretrain.recipe import RecipeConfig, pretrain, save_weights, zero_shot
from stages._cli import app, read_config, user_errors

MODEL_DIR = Path("models/digit-clip")

cli = app(__doc__)


@cli.command()
@user_errors
def main(
    params: Path = typer.Option(MODEL_DIR / "params.yaml", "--params", help="The recipe's own params file."),
    out: Path = typer.Option(MODEL_DIR, help="Directory for weights.safetensors, metrics.json and curves.csv."),
) -> None:
    """Pretrain an embedded CLIP on rendered image-caption pairs of its vocabulary."""
    corpus = read_config(params, "corpus", CorpusConfig)
    recipe = read_config(params, "recipe", RecipeConfig)
    arch = recipe.arch
    torch.set_num_threads(recipe.threads)
    start = time.perf_counter()
    result = pretrain(corpus, recipe, log=_log)
    weights = out / "weights.safetensors"
    save_weights(result.clip, weights, {"arch": arch, "recipe": params.as_posix()})
    shipped = load_clip(arch, str(weights))  # the ordinary checkpoint path, fp16 weights as shipped
    _, val = build_corpus(corpus)
    summary = {
        "arch": arch,
        "parameters": sum(t.numel() for t in shipped.model.state_dict().values()),
        "steps": recipe.steps,
        "train_seconds": round(result.seconds, 1),
        "total_seconds": round(time.perf_counter() - start, 1),
        "threads": recipe.threads,
        "sha256": sha256(weights),
        "val_images": corpus.val_images,
        **{
            f"val_{k}": v
            for k, v in zero_shot(
                shipped, val, vocabulary(corpus.vocabulary).names, recipe.eval_templates, recipe.eval_attn_scale
            ).items()
        },
    }
    write_json(summary, out / "metrics.json")
    write_text(rows_csv(result.history, list(result.history[0])), out / "curves.csv")
    typer.echo(
        f"wrote {weights} (sha256 {summary['sha256'][:12]}...): val zero-shot mAP {summary['val_zeroshot_mAP']:.2f}"
    )


def _log(row: dict) -> None:
    typer.echo(
        f"step {row['step']:>5}  loss {row['loss_global']:.3f} + token {row['loss_token']:.3f}  "
        f"val zero-shot {row['val_zeroshot_mAP']:.1f}  label-specific {row['val_label_specific_mAP']:.1f}",
        err=True,
    )


if __name__ == "__main__":
    cli()
