"""User manifests in CSV, JSON Lines and Parquet, with and without split column and class list."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from source_fixtures import build_with_defaults, data_params, prepared_labels, prepared_paths, run_prepare, write_image

from ssmll.core.errors import UserError
from ssmll.data.sources.registry import prepare

ROWS = [
    {"path": "img/a.jpg", "labels": ["cat", "sofa"], "split": "train"},
    {"path": "img/b.png", "labels": ["dog"], "split": "train"},
    {"path": "img/c.jpg", "labels": [], "split": "train"},
    {"path": "img/d.jpg", "labels": ["cat"], "split": "test"},
    {"path": "img/sub/e.jpg", "labels": ["dog", "tvmonitor"], "split": "test"},
    {"path": "img/f.jpg", "labels": ["sofa"], "split": "train"},
    {"path": "img/g.jpg", "labels": ["cat", "dog"], "split": "train"},
    {"path": "img/h.jpg", "labels": ["tvmonitor"], "split": "test"},
]


def write_images(root: Path) -> None:
    for n, row in enumerate(ROWS):
        write_image(root / row["path"], seed=n)


def write_manifest(path: Path, rows: list[dict], separator: str = "|") -> Path:
    """``rows`` in the format of ``path``'s suffix; CSV joins list cells with ``separator``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows({k: separator.join(v) if isinstance(v, list) else v for k, v in r.items()} for r in rows)
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def without_split(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "split"} for r in rows]


EXPECTED_TRAIN = {
    "img/a.jpg": ["cat", "sofa"],
    "img/b.png": ["dog"],
    "img/c.jpg": [],
    "img/f.jpg": ["sofa"],
    "img/g.jpg": ["cat", "dog"],
}
EXPECTED_TEST = {"img/d.jpg": ["cat"], "img/sub/e.jpg": ["dog", "tvmonitor"], "img/h.jpg": ["tvmonitor"]}


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_prepare_reads_a_manifest_with_split_column(tmp_path, suffix):
    write_images(tmp_path / "ds")
    manifest = write_manifest(tmp_path / "ds" / f"manifest{suffix}", ROWS)
    result, metrics = run_prepare(tmp_path, {"source": "manifest", "manifest": {"file": str(manifest)}})
    assert result.exit_code == 0, result.output
    assert metrics["classes"] == ["cat", "dog", "sofa", "tvmonitor"]
    assert metrics["splits"]["train"]["images"] == 5 and metrics["splits"]["test"]["images"] == 3
    assert metrics["splits"]["train"]["images_without_labels"] == 1
    assert metrics["manifest"] == {"test_part": "split column"}
    assert prepared_labels(tmp_path, "train") == EXPECTED_TRAIN
    assert prepared_labels(tmp_path, "test") == EXPECTED_TEST
    assert prepared_paths(tmp_path, "test")["img/sub/e.jpg"] == str(tmp_path / "ds" / "img" / "sub" / "e.jpg")


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_without_split_column_the_test_part_is_drawn_with_seed_and_fraction(tmp_path, suffix):
    write_images(tmp_path / "ds")
    manifest = write_manifest(tmp_path / "ds" / f"manifest{suffix}", without_split(ROWS))

    def test_ids(seed: int) -> list[str]:
        ds = build_with_defaults("manifest", {"file": str(manifest), "test_fraction": 0.25}, seed=seed)
        assert ds.tables["train"].num_rows == 6
        return ds.tables["test"].column("image_id").to_pylist()

    assert test_ids(0) == test_ids(0)
    assert len({tuple(test_ids(seed)) for seed in range(5)}) > 1


def test_class_list_file_with_prompt_names_and_own_columns(tmp_path):
    write_images(tmp_path / "ds")
    rows = [{"file": r["path"], "tags": r["labels"], "id": f"im{n}", "part": r["split"]} for n, r in enumerate(ROWS)]
    manifest = write_manifest(tmp_path / "ds" / "list.csv", rows, separator=";")
    classes = tmp_path / "classes.json"
    classes.write_text(
        json.dumps({"tvmonitor": "tv monitor", "sofa": "sofa", "dog": "dog", "cat": "cat", "bird": "bird"})
    )
    options = {
        "file": str(manifest),
        "path_column": "file",
        "labels_column": "tags",
        "label_separator": ";",
        "id_column": "id",
        "split_column": "part",
        "classes_file": str(classes),
    }
    result, metrics = run_prepare(tmp_path, {"source": "manifest", "manifest": options})
    assert result.exit_code == 0, result.output
    assert metrics["classes"] == ["tvmonitor", "sofa", "dog", "cat", "bird"]
    assert json.loads((tmp_path / "prepared" / "classes.json").read_text())["prompt_names"][0] == "tv monitor"
    assert prepared_labels(tmp_path, "test") == {"im3": ["cat"], "im4": ["tvmonitor", "dog"], "im7": ["tvmonitor"]}


def test_txt_class_list_and_prompt_name_override(tmp_path):
    write_images(tmp_path / "ds")
    manifest = write_manifest(tmp_path / "ds" / "m.jsonl", ROWS)
    (tmp_path / "ds" / "classes.txt").write_text("dog\ncat\nsofa\ntvmonitor\n")
    options = {"file": str(manifest), "classes_file": "classes.txt"}  # found beside the manifest
    data = {"source": "manifest", "prompt_names": {"tvmonitor": "television"}, "manifest": options}
    ds = prepare(data_params(data))
    assert ds.classes == ["dog", "cat", "sofa", "tvmonitor"]
    assert ds.prompt_names == ["dog", "cat", "sofa", "television"]
    with pytest.raises(UserError, match="data.prompt_names names classes this dataset does not have: 'zebra'"):
        prepare(data_params({**data, "prompt_names": {"zebra": "a zebra"}}))


def test_label_not_in_class_list_is_an_error_naming_it(tmp_path):
    write_images(tmp_path / "ds")
    manifest = write_manifest(tmp_path / "ds" / "m.csv", ROWS)
    classes = tmp_path / "classes.txt"
    classes.write_text("cat\ndog\nsofa\n")
    data = {"source": "manifest", "manifest": {"file": str(manifest), "classes_file": str(classes)}}
    result, metrics = run_prepare(tmp_path, data)
    assert result.exit_code == 2 and metrics is None
    assert "1 label(s) not in the class list: 'tvmonitor' (image img/sub/e.jpg)" in result.output
    assert "Traceback" not in result.output


def test_duplicate_image_ids_are_an_error_naming_them(tmp_path):
    write_images(tmp_path / "ds")
    rows = ROWS + [{**ROWS[1], "split": "test"}, ROWS[4]]
    manifest = write_manifest(tmp_path / "ds" / "m.jsonl", rows)
    result, metrics = run_prepare(tmp_path, {"source": "manifest", "manifest": {"file": str(manifest)}})
    assert result.exit_code == 2 and metrics is None
    assert (
        "2 image id(s) listed more than once: 'img/b.png' (train, test), 'img/sub/e.jpg' (test, test)" in result.output
    )


def test_split_values_other_than_train_and_test_are_an_error(tmp_path):
    write_images(tmp_path / "ds")
    rows = [{**r, "split": "val"} if r["split"] == "test" else r for r in ROWS]
    manifest = write_manifest(tmp_path / "ds" / "m.csv", rows)
    with pytest.raises(UserError, match=r"should say train or test, found 'val' \(3 rows\)"):
        build_with_defaults("manifest", {"file": str(manifest)})


def test_missing_column_names_the_param(tmp_path):
    manifest = write_manifest(tmp_path / "m.csv", ROWS)
    with pytest.raises(
        UserError, match=r"no 'tags' column \(data.manifest.labels_column\); its columns are: path, labels, split"
    ):
        build_with_defaults("manifest", {"file": str(manifest), "labels_column": "tags"})


def test_unknown_format_is_an_error(tmp_path):
    (tmp_path / "m.xlsx").write_text("")
    with pytest.raises(UserError, match=r"should end in one of \.csv, \.jsonl, \.parquet"):
        build_with_defaults("manifest", {"file": str(tmp_path / "m.xlsx")})
