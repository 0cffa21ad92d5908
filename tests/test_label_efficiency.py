"""The label-efficiency study: its library (ssmll.evaluation.efficiency) and its sub-pipeline on a tiny copy."""

from __future__ import annotations

import csv
import io
import json

import pytest
import yaml
from checkout import copy_checkout, run, stages_run

from ssmll.evaluation.efficiency import (
    CURVE_COLUMNS,
    VARIANTS,
    cell_name,
    curve_csv,
    oracle_metrics,
    score_record,
    summarize,
    table_markdown,
)
from ssmll.evaluation.experiment import VariantScore
from ssmll.evaluation.scoring import ORACLES

STUDY = "studies/label-efficiency"


def cell(ratio: float, seed: int, base: float, tail: float | None = None) -> dict:
    """A cell file as ``run`` writes it, every variant at ``base`` + seed, method with pseudo-label figures."""
    variants = {name: {"mAP": base + seed, "tail_mAP": tail} for name in VARIANTS}
    variants["method"] |= {"pseudo_precision": 80.0 + seed, "pseudo_recall": 70.0}
    return {"ratio": ratio, "seed": seed, "labeled_images": 10, "tail_classes": [], "variants": variants}


ORACLE_FILE = {"tail_classes": [], "variants": {name: {"mAP": 90.0, "tail_mAP": None} for name in ORACLES}}


def test_a_cell_is_named_as_the_matrix_writes_it():
    assert [cell_name(r, 1) for r in (0.02, 0.05, 0.1, 0.2)] == ["0.02-1", "0.05-1", "0.1-1", "0.2-1"]


def test_score_record_rounds_and_keeps_pseudo_labels_only_for_semi_supervised_variants():
    assert score_record(VariantScore(70.123456)) == {"mAP": 70.1235, "tail_mAP": None}
    record = score_record(VariantScore(70.0, 80.0, 60.0, 50.555555))
    assert record == {"mAP": 70.0, "tail_mAP": 50.5556, "pseudo_precision": 80.0, "pseudo_recall": 60.0}


def test_summary_is_mean_and_std_over_seeds_per_ratio_and_variant():
    cells = [cell(0.1, 1, 70.0), cell(0.1, 3, 70.0), cell(0.02, 1, 60.0, tail=40.0), cell(0.02, 2, 60.0)]
    cells[0]["variants"] = dict(sorted(cells[0]["variants"].items()))  # as a cell file has them
    summary = summarize(cells)
    assert list(summary) == [0.02, 0.1] and list(summary[0.1]) == list(VARIANTS)
    assert summary[0.1]["method"] == {"mAP": 72.0, "mAP_std": 1.0}  # no tail key: no seed has a rare class
    # the tail over the seeds that have one
    assert summary[0.02]["zeroshot"] == {"mAP": 61.5, "mAP_std": 0.5, "tail_mAP": 40.0, "tail_mAP_std": 0.0}
    assert all(isinstance(v, float) for r in summary.values() for m in r.values() for v in m.values())


def test_curve_has_a_row_per_ratio_and_variant_and_the_oracles_at_every_ratio():
    summary = summarize([cell(0.1, 1, 70.0), cell(0.2, 1, 75.0, tail=50.0)])
    oracles = oracle_metrics(ORACLE_FILE)
    assert oracles == {name: {"mAP": 90.0} for name in ORACLES}
    rows = list(csv.DictReader(io.StringIO(curve_csv(summary, oracles))))
    assert tuple(rows[0]) == CURVE_COLUMNS
    assert len(rows) == 2 * (len(VARIANTS) + len(ORACLES))
    oracle_rows = [r for r in rows if r["kind"] == "oracle"]
    assert {r["ratio"] for r in oracle_rows} == {"0.1", "0.2"} and {r["mAP"] for r in oracle_rows} == {"90.0000"}
    assert {r["mAP_std"] for r in oracle_rows} == {"0.0000"} and {r["tail_mAP"] for r in oracle_rows} == {""}
    method = {r["ratio"]: r for r in rows if r["variant"] == "method"}
    assert method["0.1"]["tail_mAP"] == "" and method["0.2"]["tail_mAP"] == "50.0000"


def test_table_has_a_row_per_variant_and_the_pseudo_labels_beside_the_method():
    cells = [cell(0.1, 1, 70.0), cell(0.1, 3, 70.0)]
    table = table_markdown(summarize(cells), cells, ORACLE_FILE)
    assert table.startswith("| variant | 0.1 |")
    assert "| method | 72.00 ± 1.00 [82.0 / 70.0] |" in table and "| supervised | 72.00 ± 1.00 |" in table
    assert all(f"{name} (oracle" in table for name in ORACLES)


GRID = {"ratios": [0.1, 0.5], "seeds": [1, 2]}


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> tuple:
    """A tiny copy of the checkout after ``dvc repro`` of the study on a 2 x 2 grid, and that run's output."""
    repo = copy_checkout(tmp_path_factory.mktemp("label_efficiency"))
    (repo / STUDY / "params.yaml").write_text(yaml.safe_dump(GRID))
    return repo, run(repo, "dvc", "repro", f"{STUDY}/dvc.yaml", timeout=1200)


@pytest.mark.slow
def test_repro_runs_a_cell_per_ratio_and_seed_the_oracles_once_and_the_aggregate(study):
    repo, output = study
    ran = stages_run(output)
    assert {"prepare", "extract"} <= ran and "split" not in ran  # the study makes its own splits
    cells = sorted(s for s in ran if s.startswith(f"{STUDY}/dvc.yaml:cell@"))
    assert len(cells) == 4 and {f"{STUDY}/dvc.yaml:oracles", f"{STUDY}/dvc.yaml:aggregate"} <= ran
    for r in GRID["ratios"]:
        for s in GRID["seeds"]:
            written = json.loads((repo / STUDY / "runs" / f"{cell_name(r, s)}.json").read_text())
            assert (written["ratio"], written["seed"]) == (r, s) and sorted(written["variants"]) == sorted(VARIANTS)
    assert "up to date" in run(repo, "dvc", "status", f"{STUDY}/dvc.yaml")


@pytest.mark.slow
def test_aggregate_writes_numbers_only_metrics_per_ratio_and_variant_and_the_curve(study):
    repo, _ = study
    metrics = repo / "metrics/label-efficiency"
    for r in GRID["ratios"]:
        assert sorted(p.stem for p in (metrics / f"{r:g}").iterdir()) == sorted(VARIANTS)
        for name in VARIANTS:
            record = json.loads((metrics / f"{r:g}" / f"{name}.json").read_text())
            assert {"mAP", "mAP_std"} <= set(record) <= {"mAP", "mAP_std", "tail_mAP", "tail_mAP_std"}
            assert all(isinstance(v, float) for v in record.values())
    assert sorted(p.stem for p in metrics.glob("*.json")) == sorted(ORACLES)
    rows = list(csv.DictReader(io.StringIO((repo / "metrics/plots/label_efficiency.csv").read_text())))
    assert len(rows) == len(GRID["ratios"]) * (len(VARIANTS) + len(ORACLES))
    assert "| method |" in (repo / STUDY / "table.md").read_text()


@pytest.mark.slow
def test_dvc_shows_the_study_s_metrics_and_draws_its_plots(study, tmp_path):
    repo, _ = study
    assert "metrics/label-efficiency/0.5/method.json" in run(repo, "dvc", "metrics", "show")
    run(repo, "dvc", "plots", "show", "-o", str(tmp_path))
    page = (tmp_path / "index.html").read_text()
    assert "labeled ratio" in page and "mean_plus_std" in page
