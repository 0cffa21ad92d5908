"""The split stage command: the labeled part and its priors, warnings and one-line errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from stage_runner import assert_fails_cleanly, invoke
from tiny_params import TINY

from ssmll.data.tables import PreparedDataset, make_table, write_prepared
from stages.split import cli


@pytest.fixture
def with_prepared(workdir, tiny_prepared):
    """A working directory with the tiny prepared tables; call with overrides to set params."""

    def setup(overrides: dict | None = None):
        root = workdir(overrides or {})
        if not (root / "data" / "prepared").exists():
            shutil.copytree(tiny_prepared, root / "data" / "prepared")
        return root

    return setup


def test_split_writes_assignment_priors_and_summary(with_prepared, tiny_scenes):
    root = with_prepared({"split.lb_ratio": 0.25, "split.seed": 3})
    result = invoke(cli)
    assert result.exit_code == 0, result.output
    n = TINY["data.objects.n_train"]
    table = pq.read_table(root / "data/split/split.parquet")
    assert table.num_rows == n
    labeled = table.column("labeled").to_numpy()
    assert set(np.flatnonzero(labeled)) == set(np.random.RandomState(3).permutation(n)[: n // 4])
    priors = json.loads((root / "data/split/priors.json").read_text())
    assert priors["classes"] == tiny_scenes.classes and len(priors["priors"]) == len(tiny_scenes.classes)
    assert 0 < max(priors["priors"]) <= 1
    summary = json.loads((root / "metrics/split.json").read_text())
    assert (summary["labeled"], summary["unlabeled"]) == (n // 4, n - n // 4)


BAD = {
    "ratio_zero": ({"split.lb_ratio": 0}, "outside (0, 1]"),
    "ratio_above_one": ({"split.lb_ratio": 1.5}, "outside (0, 1]"),
    "ratio_negative": ({"split.lb_ratio": -0.1}, "outside (0, 1]"),
    "ratio_not_a_number": ({"split.lb_ratio": "ten percent"}, "split.lb_ratio must be a number"),
    "ratio_labels_none": ({"split.lb_ratio": 0.001}, "labels none"),
    "unknown_key": ({"split.lb_ration": 0.1}, "unknown param split.lb_ration"),
}


@pytest.mark.parametrize("overrides, message", BAD.values(), ids=BAD.keys())
def test_bad_params_fail_with_one_line_and_leave_the_previous_split(with_prepared, overrides, message):
    root = with_prepared()
    assert invoke(cli).exit_code == 0
    with_prepared(overrides)
    assert_fails_cleanly(cli, root, message)


def test_missing_param_is_named_and_leaves_the_previous_split(with_prepared):
    root = with_prepared()
    assert invoke(cli).exit_code == 0
    params = yaml.safe_load((root / "params.yaml").read_text())
    del params["split"]["seed"]
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    assert_fails_cleanly(cli, root, "param split.seed is missing; add it to params.yaml (default: 1)")


def test_missing_prepared_tables_name_the_stage_to_run(workdir):
    root = workdir()
    assert_fails_cleanly(cli, root, "run the prepare stage first")


def test_class_without_labeled_positive_is_a_warning_recorded_in_metrics(workdir):
    root = workdir({"split.lb_ratio": 0.5, "split.seed": 0})
    hidden = int(np.random.RandomState(0).permutation(20)[-1])  # an image that stays unlabeled
    labels = [[2] if i == hidden else [i % 2] for i in range(20)]
    table = make_table([f"img_{i:02d}" for i in range(20)], labels)
    write_prepared(PreparedDataset(["a", "b", "c"], ["a", "b", "c"], {"train": table}), root / "data/prepared")

    result = invoke(cli)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "warning: no labeled positive for c; raise split.lb_ratio or change split.seed"
    ]
    assert json.loads((root / "metrics/split.json").read_text())["classes_without_labeled_positive"] == ["c"]
    assert json.loads((root / "data/split/priors.json").read_text())["priors"][2] == 0.0
