"""The method against every baseline over labeled ratios and seeds, plus ablations.

Runs what the split, contexts, train, train_supervised and evaluate stages run (the same
library calls, ``ssmll.evaluation.experiment``: one function trains and scores a variant),
on the features already extracted (``dvc repro extract`` first), with params.yaml's values
and only the swept keys changed, and prints a Markdown table of test mAP (mean ± std over
``split.seed``), with the pseudo-label precision / recall of the last epoch next to each
semi-supervised run. Two trainings run at a time, one CPU thread each. Where the labeled
part has rare classes (under ``TAIL_PREVALENCE``, 5 %, of its images: ``docs/method.md``),
a "tail" column after each ratio gives their mAP (the evaluate stage's ``tail_mAP``).

    python studies/method_table.py --ratios 0.05,0.1,0.2 --seeds 1,2,3 --ablations

``--on labeled`` chooses settings within the protocol: ``FOLDS``-fold cross-validation on
the labeled part alone. Each fold of the labeled images is held out (its labels hidden,
the images join the unlabeled part), the variants train on the rest, and their mAP on the
held-out fold is reported (mean ± std over seeds x folds). Compare ``--set section.key=value``
settings this way; the test set and the unlabeled part's hidden labels choose nothing.
"""

from __future__ import annotations

import sys
from concurrent.futures import ProcessPoolExecutor
from enum import Enum
from pathlib import Path

import numpy as np
import typer
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ssmll.evaluation.experiment import (  # noqa: E402
    FOLDS,
    Settings,
    VariantScore,
    run_baselines,
    run_oracle,
    run_variant,
)
from ssmll.evaluation.metrics import TAIL_PREVALENCE  # noqa: E402
from ssmll.evaluation.scoring import ORACLES  # noqa: E402

BASELINES = ("zeroshot", "zeroshot_label_specific", "linear_probe")
TRAINED = ("supervised", "method")
ABLATIONS = {
    "no context task": {"train.context_weight": 0.0},
    "global alignment": {"model.alignment": "global"},
    "fixed threshold": {"pseudo.threshold": "fixed"},
    "contexts.k 2": {"contexts.k": 2},
    "contexts.k 5": {"contexts.k": 5},
    "masks 0.5": {"pseudo.pos_fraction": 0.5, "pseudo.neg_fraction": 0.5},
}

_WS = None


def _workspace(data: Path):
    global _WS
    if _WS is None:
        from ssmll.evaluation.workspace import load_workspace

        _WS = load_workspace(data / "prepared", data / "features", data / "split")
    return _WS


def run_one(job: tuple) -> tuple:
    """One job: the baselines, one trained variant or one oracle, for one (ratio, seed, overrides, fold).

    Returns the job's key and ``{variant: VariantScore}``: mAP on the test set, or on the
    held-out fold with ``--on labeled``, and the pseudo-label precision / recall of the last epoch.
    """
    import torch

    torch.set_num_threads(1)
    data, params, on, ratio, seed, overrides, variant, fold = job
    ws = _workspace(data)
    settings = Settings.from_params(_apply(params, overrides))
    if variant in ORACLES:
        return job[3:], {variant: run_oracle(variant, ws, settings)}
    held_out = fold if on == "labeled" else None
    if variant == "baselines":
        return job[3:], run_baselines(ws, ratio, seed, settings, held_out)
    return job[3:], {variant: run_variant(variant, ws, ratio, seed, settings, held_out)}


def _apply(params: dict, overrides: dict) -> dict:
    out = yaml.safe_load(yaml.safe_dump(params))
    for dotted, value in overrides.items():
        section, key = dotted.split(".")
        out[section][key] = value
    return out


#: Where a table is scored: the test set (to report), or held-out folds of the labeled part (to choose).
Part = Enum("Part", {name: name for name in ("test", "labeled")}, type=str)  # type: ignore[misc]


def main(
    ratios: str = typer.Option("0.05,0.1,0.2", help="Labeled ratios."),
    seeds: str = typer.Option("1,2,3", help="split.seed values."),
    ablations: bool = typer.Option(False, help="Also run the ablations at the smallest ratio."),
    variants: str = typer.Option(",".join((*BASELINES, *TRAINED)), help="Variants to run (baselines come together)."),
    data: Path = typer.Option(ROOT / "data", help="The pipeline's data directory (prepared, features)."),
    params_file: Path = typer.Option(ROOT / "params.yaml", "--params", help="Params file."),
    jobs: int = typer.Option(2, help="Trainings at a time."),
    on: Part = typer.Option("test", help="test (report), or labeled (cross-validate on the labeled part, to choose)."),
    set_: list[str] = typer.Option([], "--set", help="section.key=value applied to every run (YAML value)."),
    oracles: bool = typer.Option(
        True, help="With --on test, also train on every label: the most the unlabeled part could add."
    ),
) -> None:
    """Test mAP (or cross-validated, --on labeled) of every variant per labeled ratio, mean ± std over seeds.

    Where the labeled part has classes under 5 % of its images, a "tail" column after each ratio gives their mAP.
    """
    part = on.value  # plain text from here on: the worker processes get it too
    params = _apply(yaml.safe_load(params_file.read_text()), dict(_pair(s) for s in set_))
    rs, ss = [float(r) for r in ratios.split(",")], [int(s) for s in seeds.split(",")]
    chosen = variants.split(",")
    unknown = set(chosen) - {*BASELINES, *TRAINED}
    if unknown:
        raise typer.BadParameter(f"unknown variants {sorted(unknown)}; choose from {', '.join((*BASELINES, *TRAINED))}")
    folds = range(FOLDS) if part == "labeled" else [0]
    runs = [(r, s, f) for r in rs for s in ss for f in folds]
    names = [v for v in TRAINED if v in chosen] + (["baselines"] if set(chosen) & set(BASELINES) else [])
    work = [(data, params, part, r, s, {}, v, f) for r, s, f in runs for v in names]
    if oracles and part == "test":
        work += [(data, params, part, None, None, {}, v, 0) for v in ORACLES]
    if ablations:
        work += [
            (data, params, part, r, s, ABLATIONS[a], "method", f) for a in ABLATIONS for r, s, f in runs if r == rs[0]
        ]
    results: dict = {}
    with ProcessPoolExecutor(jobs) as pool:
        for (ratio, seed, overrides, _, fold), values in pool.map(run_one, work):
            if ratio is None:
                results.update(values)
                continue
            for variant, value in values.items():
                name = next((a for a, o in ABLATIONS.items() if o == overrides), variant)
                results.setdefault((name, ratio), []).append(value)
                where = f" fold {fold}" if part == "labeled" else ""
                typer.echo(f"{name:>24} ratio {ratio:<5} seed {seed}{where}: mAP {value.mAP:.2f}", err=True)
    what = "held-out labeled folds" if part == "labeled" else "test"
    tail = any(v.tail_mAP is not None for k, vs in results.items() if k not in ORACLES for v in vs)
    columns = [(r, key) for r in rs for key in ("mAP", *(["tail_mAP"] if tail else []))]
    typer.echo(f"{what} mAP, mean ± std; [pseudo-label precision / recall at the last epoch]")
    if tail:
        typer.echo(f"tail: mAP over the classes under {TAIL_PREVALENCE:.0%} of the labeled part")
    typer.echo("\n| variant | " + " | ".join(f"{r:g}" + (" tail" if k != "mAP" else "") for r, k in columns) + " |")
    typer.echo("|---|" + "---|" * len(columns))
    for name in [*(v for v in (*BASELINES, *TRAINED) if v in chosen), *ABLATIONS]:
        cells = [_cell(results.get((name, r)), key) for r, key in columns]
        if any(c != "" for c in cells):
            typer.echo(f"| {name} | " + " | ".join(cells) + " |")
    for name in ORACLES:
        if name in results:
            value = results[name]
            tail_text = "" if value.tail_mAP is None else f", tail {value.tail_mAP:.2f}"
            typer.echo(f"\n{name} (oracle: every training label, reported only): {value.mAP:.2f}{tail_text}")


def _pair(text: str) -> tuple[str, object]:
    key, _, value = text.partition("=")
    return key, yaml.safe_load(value)


def _cell(values: list[VariantScore] | None, key: str = "mAP") -> str:
    """Mean ± std of ``key`` (mAP or tail_mAP) over seeds; the pseudo-labels' precision / recall after the mAP."""
    maps = [getattr(v, key) for v in values or [] if getattr(v, key) is not None]
    if not maps:
        return ""
    cell = f"{np.mean(maps):.2f} ± {np.std(maps):.2f}"
    if key == "mAP" and values[0].pseudo_precision is not None:
        precision, recall = (np.mean([getattr(v, k) for v in values]) for k in ("pseudo_precision", "pseudo_recall"))
        cell += f" [{precision:.1f} / {recall:.1f}]"
    return cell


if __name__ == "__main__":
    typer.run(main)
