"""Images as found in the wild: odd modes and EXIF are converted, broken files are reported."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from source_fixtures import prepared_labels, run_prepare, skipped_rows, truncate, write_image

from ssmll.core.errors import UserError
from ssmll.data.images import image_problem, open_rgb

RED = (220, 30, 40)


def solid(mode_image: Image.Image, path) -> str:
    mode_image.save(path)
    return str(path)


def test_grayscale_cmyk_and_rgb_jpegs_become_rgb(tmp_path):
    gray = open_rgb(solid(Image.new("L", (16, 8), 77), tmp_path / "g.jpg"))
    assert gray.mode == "RGB" and np.allclose(np.asarray(gray), 77, atol=2)
    cmyk = open_rgb(solid(Image.new("RGB", (16, 8), RED).convert("CMYK"), tmp_path / "c.jpg"))
    assert cmyk.mode == "RGB" and np.allclose(np.asarray(cmyk)[4, 8], RED, atol=6)


def test_alpha_and_palette_transparency_are_composited_on_white(tmp_path):
    rgba = Image.new("RGBA", (4, 2), RED + (255,))
    rgba.putpixel((0, 0), (0, 0, 0, 0))
    out = np.asarray(open_rgb(solid(rgba, tmp_path / "a.png")))
    assert tuple(out[0, 0]) == (255, 255, 255) and tuple(out[1, 1]) == RED
    palette = Image.new("P", (4, 2), 1)
    palette.putpalette([0, 0, 0, *RED] + [0] * 762)
    palette.putpixel((0, 0), 0)
    palette.info["transparency"] = 0
    out = np.asarray(open_rgb(solid(palette, tmp_path / "p.png")))
    assert tuple(out[0, 0]) == (255, 255, 255) and tuple(out[1, 1]) == RED
    gif = np.asarray(open_rgb(solid(palette, tmp_path / "p.gif")))
    assert tuple(gif[0, 0]) == (255, 255, 255)


def test_sixteen_bit_png_uses_its_full_range(tmp_path):
    arr = np.array([[0, 32896, 65535]], dtype=np.uint16)
    path = solid(Image.fromarray(arr), tmp_path / "deep.png")
    assert Image.open(path).mode.startswith("I")
    out = np.asarray(open_rgb(path))
    assert out.shape == (1, 3, 3) and out[0, :, 0].tolist() == [0, 128, 255]


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (40, 20), (0, 0, 0))
    img.paste(RED, (0, 0, 10, 10))  # top-left of the stored pixels
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display turns it 90 degrees clockwise
    img.save(tmp_path / "o.jpg", exif=exif, quality=95)
    out = open_rgb(tmp_path / "o.jpg")
    assert out.size == (20, 40)
    assert np.allclose(np.asarray(out)[3, 16], RED, atol=25)  # now at the top-right


@pytest.fixture
def broken(tmp_path):
    """Files that cannot be used, by kind."""
    files = {
        "truncated jpeg": truncate(write_image(tmp_path / "t.jpg", size=(64, 64))),
        "truncated png": truncate(write_image(tmp_path / "t.png", size=(64, 64))),
        "zero bytes": tmp_path / "empty.jpg",
        "not an image": tmp_path / "notes.jpg",
    }
    files["zero bytes"].write_bytes(b"")
    files["not an image"].write_text("this is not a picture")
    return files


def test_broken_files_are_told_apart_and_refused(tmp_path, broken):
    for path in broken.values():
        assert image_problem(str(path)).startswith("corrupt: ")
        with pytest.raises(UserError, match="cannot decode image"):
            open_rgb(path)
    assert "truncated" in image_problem(str(broken["truncated jpeg"]))
    assert image_problem(str(tmp_path / "nope.jpg")) == "missing: no such file"
    with pytest.raises(UserError, match="image file not found"):
        open_rgb(tmp_path / "nope.jpg")
    assert image_problem(str(write_image(tmp_path / "ok.jpg"))) is None


def test_header_check_is_cheap_and_misses_truncation(broken):
    assert image_problem(str(broken["truncated jpeg"]), decode=False) is None
    assert image_problem(str(broken["zero bytes"]), decode=False).startswith("corrupt: ")


def _manifest_of_everything(tmp_path, broken) -> str:
    """A manifest listing odd-but-fine images, the broken ones and a missing one."""
    fine = {
        "gray.jpg": Image.new("L", (20, 10), 100),
        "cmyk.jpg": Image.new("CMYK", (20, 10), (0, 200, 200, 0)),
        "rgba.png": Image.new("RGBA", (20, 10), (1, 2, 3, 100)),
        "deep.png": Image.fromarray(np.full((10, 20), 40000, dtype=np.uint16)),
        "palette.gif": Image.new("P", (20, 10), 3),
    }
    for name, img in fine.items():
        img.save(tmp_path / name)
    rows = [f"{name},cat,train" for name in fine]
    rows += [f"{path.name},dog,train" for path in broken.values()]
    rows += ["gone.jpg,dog,test", "ok.jpg,cat,test"]
    write_image(tmp_path / "ok.jpg")
    (tmp_path / "m.csv").write_text("path,labels,split\n" + "\n".join(rows) + "\n")
    return str(tmp_path / "m.csv")


def test_prepare_keeps_odd_images_and_lists_broken_ones(tmp_path, broken):
    data = {
        "source": "manifest",
        "max_skipped_fraction": 0.5,
        "manifest": {"file": _manifest_of_everything(tmp_path, broken)},
    }
    result, metrics = run_prepare(tmp_path / "out", data)
    assert result.exit_code == 0, result.output
    assert sorted(prepared_labels(tmp_path / "out", "train")) == [
        "cmyk.jpg",
        "deep.png",
        "gray.jpg",
        "palette.gif",
        "rgba.png",
    ]
    assert metrics["splits"]["train"] == {**metrics["splits"]["train"], "images": 5, "skipped": 4}
    assert metrics["splits"]["test"]["images"] == 1
    assert metrics["skipped"]["by_reason"] == {"corrupt": 4, "missing": 1}
    listed = {f["image_id"]: f["reason"] for f in metrics["skipped"]["files"]}
    assert listed["gone.jpg"] == "missing: no such file"
    assert "truncated" in listed["t.jpg"] and "cannot identify" in listed["empty.jpg"]
    side = {row["image_id"]: row for row in skipped_rows(tmp_path / "out")}
    assert side.keys() == listed.keys() and side["notes.jpg"]["path"] == str(tmp_path / "notes.jpg")
    assert "5 skipped" in result.output


def test_prepare_fails_above_the_loss_limit_naming_offenders(tmp_path, broken):
    data = {"source": "manifest", "manifest": {"file": _manifest_of_everything(tmp_path, broken)}}
    result, metrics = run_prepare(tmp_path / "out", data)
    assert result.exit_code == 2 and metrics is None
    line = result.output.strip()
    assert line.startswith(
        "error: 4 of 9 train images (44.4%) are missing or unreadable, above data.max_skipped_fraction=0.01"
    )
    assert f"{tmp_path / 't.jpg'} (corrupt: image file is truncated" in line and "\n" not in line
    assert not (tmp_path / "out" / "prepared").exists()


def test_header_check_is_a_param(tmp_path, broken):
    data = {"source": "manifest", "image_check": "header", "max_skipped_fraction": 0.5}
    data["manifest"] = {"file": _manifest_of_everything(tmp_path, broken)}
    result, metrics = run_prepare(tmp_path / "out", data)
    assert result.exit_code == 0, result.output
    assert metrics["skipped"]["by_reason"] == {"corrupt": 2, "missing": 1}  # the truncated files pass a header check
    assert json.loads((tmp_path / "out" / "prepared" / "classes.json").read_text())["classes"] == ["cat", "dog"]
