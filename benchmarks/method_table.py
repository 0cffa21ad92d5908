"""The method vs its labeled-only baseline over labeled ratios and seeds, plus ablations.

Runs what the split, contexts, train, train_supervised and evaluate stages run, on the
features already extracted (``dvc repro extract split`` first), with params.yaml's values and
only the swept keys changed, and prints a Markdown table of test mAP (mean ± std over
``split.seed``). Two trainings run at a time, one CPU thread each.

    python benchmarks/method_table.py --ratios 0.05,0.1,0.2 --seeds 1,2,3 --ablations

``--on unlabeled`` scores the unlabeled part of the training pool against its hidden
labels instead of the test set: use it to choose settings (``--set train.x=y``) without
touching the test set.
"""

from __future__ import annotations

import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import typer
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ssmll.config import from_params  # noqa: E402
from ssmll.contexts import ContextsConfig, find_contexts  # noqa: E402
from ssmll.metrics import mean_ap  # noqa: E402
from ssmll.model import ModelConfig  # noqa: E402
from ssmll.trainer import TrainConfig  # noqa: E402

ABLATIONS = {
    "no context task": {"train.context_weight": 0.0},
    "global alignment": {"model.alignment": "global"},
    "fixed threshold": {"train.threshold": "fixed"},
}

_WS = None


def _workspace(data: Path):
    global _WS
    if _WS is None:
        from ssmll.artifacts import load_workspace

        _WS = load_workspace(data / "prepared", data / "features", data / "split")
    return _WS


def run_one(job: tuple) -> tuple:
    """Train one variant for one (ratio, seed, overrides); return its test mAP."""
    import torch

    from ssmll.featureset import predict
    from ssmll.split import class_priors, labeled_split
    from ssmll.variants import variant_trainer

    torch.set_num_threads(1)
    data, params, on, ratio, seed, overrides, variant = job
    ws = _workspace(data)
    split = labeled_split(ws.train_ids, ratio, seed)
    y_lab = ws.train.y[split.labeled]
    p = _apply(params, overrides)
    ctx_cfg = from_params(ContextsConfig, p["contexts"], "contexts")
    ctx = find_contexts(y_lab, ws.text, ctx_cfg.k, ctx_cfg.smoothing, ctx_cfg.seed)
    cfg = from_params(TrainConfig, p["train"], "train")
    model_cfg = from_params(ModelConfig, p["model"], "model")
    trainer = variant_trainer(
        variant, ws.train, split.labeled, torch.from_numpy(ws.text), ctx.membership(), class_priors(y_lab), model_cfg, cfg
    )
    model = trainer.fit().model
    if on == "test":
        return job[3:], mean_ap(ws.test.y, predict(model, ws.test))
    unl = np.flatnonzero(~split.labeled)
    return job[3:], mean_ap(ws.train.y[unl], predict(model, ws.train, unl))


def _apply(params: dict, overrides: dict) -> dict:
    out = yaml.safe_load(yaml.safe_dump(params))
    for dotted, value in overrides.items():
        section, key = dotted.split(".")
        out[section][key] = value
    return out


def main(
    ratios: str = typer.Option("0.05,0.1,0.2", help="Labeled ratios."),
    seeds: str = typer.Option("1,2,3", help="split.seed values."),
    ablations: bool = typer.Option(False, help="Also run the ablations at the smallest ratio."),
    data: Path = typer.Option(ROOT / "data", help="The pipeline's data directory (prepared, features)."),
    params_file: Path = typer.Option(ROOT / "params.yaml", "--params", help="Params file."),
    jobs: int = typer.Option(2, help="Trainings at a time."),
    on: str = typer.Option("test", help="Score on the test set, or on the unlabeled part's hidden labels."),
    set_: list[str] = typer.Option([], "--set", help="section.key=value applied to every run (YAML value)."),
) -> None:
    if on not in ("test", "unlabeled"):
        raise typer.BadParameter("--on takes test or unlabeled")
    params = _apply(yaml.safe_load(params_file.read_text()), dict(_pair(s) for s in set_))
    rs, ss = [float(r) for r in ratios.split(",")], [int(s) for s in seeds.split(",")]
    work = [(data, params, on, r, s, {}, variant) for r in rs for s in ss for variant in ("supervised", "method")]
    if ablations:
        work += [(data, params, on, rs[0], s, ABLATIONS[a], "method") for a in ABLATIONS for s in ss]
    results: dict = {}
    with ProcessPoolExecutor(jobs) as pool:
        for (ratio, seed, overrides, variant), value in pool.map(run_one, work):
            name = next((a for a, o in ABLATIONS.items() if o == overrides), variant)
            results.setdefault((name, ratio), []).append(value)
            typer.echo(f"{name:>18} ratio {ratio:<5} seed {seed}: mAP {value:.2f}", err=True)
    typer.echo("| variant | " + " | ".join(f"{r:g}" for r in rs) + " |")
    typer.echo("|---|" + "---|" * len(rs))
    for name in ["supervised", "method", *ABLATIONS]:
        cells = [_cell(results.get((name, r))) for r in rs]
        if any(c != "" for c in cells):
            typer.echo(f"| {name} | " + " | ".join(cells) + " |")


def _pair(text: str) -> tuple[str, object]:
    key, _, value = text.partition("=")
    return key, yaml.safe_load(value)


def _cell(values: list[float] | None) -> str:
    return "" if not values else f"{np.mean(values):.2f} ± {np.std(values):.2f}"


if __name__ == "__main__":
    typer.run(main)
