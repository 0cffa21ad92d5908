"""ssmll.core.files: atomic writes leave either the complete new output or the old one, and stable bytes."""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ssmll.core.files import atomic_path, read_json, rows_csv, sha256, write_json, write_parquet, write_text


class Boom(Exception):
    pass


def test_atomic_file_appears_only_when_complete(tmp_path):
    final = tmp_path / "out" / "result.txt"
    with atomic_path(final) as tmp:
        tmp.write_text("done")
        assert not final.exists()
    assert final.read_text() == "done"
    assert sorted(p.name for p in final.parent.iterdir()) == ["result.txt"]


def test_atomic_file_failure_leaves_nothing(tmp_path):
    final = tmp_path / "result.txt"
    with pytest.raises(Boom), atomic_path(final) as tmp:
        tmp.write_text("half")
        raise Boom
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_failure_keeps_the_previous_output(tmp_path):
    final = tmp_path / "features"
    final.mkdir()
    (final / "old.parquet").write_text("old")
    with pytest.raises(Boom), atomic_path(final, is_dir=True) as tmp:
        tmp.joinpath("new.parquet").write_text("half")
        raise Boom
    assert [p.name for p in tmp_path.iterdir()] == ["features"]
    assert [p.name for p in final.iterdir()] == ["old.parquet"]


def test_atomic_dir_success_replaces_the_previous_output_whole(tmp_path):
    final = tmp_path / "features"
    final.mkdir()
    (final / "stale.parquet").write_text("old")
    with atomic_path(final, is_dir=True) as tmp:
        tmp.joinpath("new.parquet").write_text("new")
    assert [p.name for p in final.iterdir()] == ["new.parquet"]
    assert [p.name for p in tmp_path.iterdir()] == ["features"]


def _table() -> pa.Table:
    return pa.table({"image_id": ["b", "a"], "score": [0.5, 0.25]})


def test_parquet_bytes_do_not_depend_on_schema_metadata(tmp_path):
    plain = tmp_path / "plain.parquet"
    with_metadata = tmp_path / "with_metadata.parquet"
    write_parquet(_table(), plain)
    write_parquet(_table().replace_schema_metadata({"pandas": '{"index_columns": []}'}), with_metadata)
    assert plain.read_bytes() == with_metadata.read_bytes()
    assert pq.read_table(plain).equals(_table())


def test_parquet_written_twice_has_equal_bytes(tmp_path):
    write_parquet(_table(), tmp_path / "a.parquet")
    write_parquet(_table(), tmp_path / "b.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def test_json_is_sorted_and_round_trips(tmp_path):
    path = tmp_path / "m.json"
    write_json({"b": 1, "a": [1, 2]}, path)
    assert path.read_text().index('"a"') < path.read_text().index('"b"')
    assert read_json(path) == {"a": [1, 2], "b": 1}


def test_json_with_nan_fails_without_leaving_a_file(tmp_path):
    path = tmp_path / "m.json"
    with pytest.raises(ValueError):
        write_json({"mAP": float("nan")}, path)
    assert list(tmp_path.iterdir()) == []


def test_write_text_replaces_content(tmp_path):
    path = tmp_path / "a.csv"
    write_text("one\n", path)
    write_text("two\n", path)
    assert path.read_text() == "two\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]


def test_rows_csv_keeps_the_given_columns_and_leaves_missing_cells_empty():
    text = rows_csv([{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25, "mAP": 70.0}], ["epoch", "loss", "mAP"])
    assert text == "epoch,loss,mAP\n1,0.5,\n2,0.25,70.0\n"


def test_sha256_of_a_file_read_in_blocks_matches_hashlib(tmp_path):
    path = tmp_path / "weights.bin"
    data = bytes(range(256)) * 5000  # over one 1 MiB block
    path.write_bytes(data)
    assert sha256(path) == hashlib.sha256(data).hexdigest()
