"""The prepare stage command on the digit scenes: outputs, and bad params as one-line errors."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from stage_runner import assert_fails_cleanly, invoke

from stages.prepare import cli

SMALL = {"data.digits.n_train": 12, "data.digits.n_test": 6, "data.digits.image_size": 64}


def test_prepare_writes_tables_classes_and_summary(workdir):
    root = workdir(SMALL)
    result = invoke(cli, "--no-progress")
    assert result.exit_code == 0, result.output
    assert pq.read_metadata(root / "data/prepared/train.parquet").num_rows == 12
    assert pq.read_metadata(root / "data/prepared/test.parquet").num_rows == 6
    assert json.loads((root / "data/prepared/classes.json").read_text())["classes"][7] == "seven"
    summary = json.loads((root / "metrics/data.json").read_text())
    assert summary["source"] == "digits"
    assert summary["splits"]["test"]["images"] == 6


BAD = {
    "min_digits_above_max": ({"data.digits.min_digits": 4, "data.digits.max_digits": 2}, "min_digits <= max_digits"),
    "overlapping_groups": ({"data.digits.groups": [[0, 1, 2], [2, 3]]}, "distinct digits"),
    "unknown_digits_key": ({"data.digits.n_trian": 10}, "unknown param data.digits.n_trian"),
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
    workdir({**SMALL, "data.digits.max_digits": 12})
    assert_fails_cleanly(cli, root, "max_digits <= 9", args=("--no-progress",))


def test_missing_params_file_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_fails_cleanly(cli, tmp_path, "params file params.yaml not found")
