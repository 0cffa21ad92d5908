"""The prepare stage command on the embedded scenes: outputs, and bad params as one-line errors."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
import yaml
from stage_runner import assert_fails_cleanly, invoke
from tiny_params import REPO

from ssmll.data.scenes.objects import CLASS_NAMES
from stages.prepare import cli

SMALL = {"data.objects.n_train": 12, "data.objects.n_test": 6}
#: The digits preset's source, as `dvc exp run -S data=digits` composes it.
DIGITS = {
    "data.source": "digits",
    "data.digits": {
        **yaml.safe_load((REPO / "conf/data/digits.yaml").read_text())["data"]["digits"],
        "n_train": 12,
        "n_test": 6,
    },
}


def test_prepare_writes_tables_classes_summary_and_frequencies(workdir):
    root = workdir(SMALL)
    result = invoke(cli, "--no-progress")
    assert result.exit_code == 0, result.output
    assert pq.read_metadata(root / "data/prepared/train.parquet").num_rows == 12
    assert pq.read_metadata(root / "data/prepared/test.parquet").num_rows == 6
    assert json.loads((root / "data/prepared/classes.json").read_text())["classes"] == CLASS_NAMES
    summary = json.loads((root / "metrics/data.json").read_text())
    assert summary["source"] == "objects"
    assert summary["splits"]["test"]["images"] == 6
    assert summary["label_statistics"]["hidden_contexts"] == 5
    rows = (root / "metrics/plots/class_frequency.csv").read_text().splitlines()
    assert rows[0] == "class,train_prevalence,test_positives" and len(rows) == 1 + len(CLASS_NAMES)


def test_the_digits_preset_still_prepares(workdir):
    root = workdir(DIGITS)
    assert invoke(cli, "--no-progress").exit_code == 0
    assert json.loads((root / "metrics/data.json").read_text())["source"] == "digits"
    assert len(json.loads((root / "data/prepared/classes.json").read_text())["classes"]) == 10


BAD = {
    "max_objects_too_large": ({"data.objects.max_objects": 12}, "max_objects"),
    "min_digits_above_max": (
        {**DIGITS, "data.digits": {**DIGITS["data.digits"], "min_digits": 4, "max_digits": 2}},
        "min_digits <= max_digits",
    ),
    "overlapping_groups": (
        {**DIGITS, "data.digits": {**DIGITS["data.digits"], "groups": [[0, 1, 2], [2, 3]]}},
        "distinct digits",
    ),
    "unknown_objects_key": ({"data.objects.n_trian": 10}, "unknown param data.objects.n_trian"),
    "unknown_data_key": ({"data.sauce": "digits"}, "unknown param data.sauce"),
    "unknown_source": ({"data.source": "imagenet"}, "unknown data.source 'imagenet'"),
}


@pytest.mark.parametrize("overrides, message", BAD.values(), ids=BAD.keys())
def test_bad_params_fail_with_one_line_and_no_output(workdir, overrides, message):
    root = workdir({**SMALL, **overrides})
    assert_fails_cleanly(cli, root, message, args=("--no-progress",))
    assert not (root / "data").exists() and not (root / "metrics").exists()


def test_bad_params_leave_the_previous_output_untouched(workdir):
    root = workdir(SMALL)
    assert invoke(cli, "--no-progress").exit_code == 0
    workdir({**SMALL, "data.objects.decay": 0})
    assert_fails_cleanly(cli, root, "data.objects.decay", args=("--no-progress",))


def test_missing_params_file_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_fails_cleanly(cli, tmp_path, "params file params.yaml not found")
