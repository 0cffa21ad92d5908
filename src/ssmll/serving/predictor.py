"""Labeling new images with a model bundle, encoding them exactly as the extract stage did.

The encoder is rebuilt from the record that extract wrote (:class:`EncoderSpec`): the
same CLIP weights (a checkpoint is checked by its sha256), preprocessing, grid and
local-token path; images go through the same plain view and the same batched encoding
(:func:`ssmll.encoding.extraction.encode_table`) and are scored by the same inference
(:func:`ssmll.method.featureset.predict`) as in evaluate. Inputs are image files, folders
(searched recursively for files Pillow can open) and manifests (CSV, JSON Lines or
Parquet with a ``path`` column, relative to the manifest's folder, as prepare reads them).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image
from tqdm import tqdm

from ssmll.core.errors import UserError
from ssmll.core.files import PARQUET_OPTIONS, atomic_path, json_values, sha256
from ssmll.core.runtime import Runtime
from ssmll.data.images import image_problem
from ssmll.data.sources.manifest import FORMATS as MANIFEST_FORMATS
from ssmll.data.sources.manifest import read_rows
from ssmll.encoding.clip import DenseImageEncoder, vit_local_path
from ssmll.encoding.extraction import encode_table
from ssmll.encoding.factory import create_encoder, plain_views
from ssmll.encoding.record import EncoderSpec
from ssmll.encoding.views import ViewMaker
from ssmll.method.featureset import FeatureSet, predict
from ssmll.serving.bundle import Bundle

#: File name endings of the formats Pillow can open, which a folder search picks up.
IMAGE_SUFFIXES = frozenset(ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN)

OUTPUT_FORMATS = (".csv", ".jsonl", ".parquet")


def encoder_from_spec(
    spec: EncoderSpec, device: str = "cpu", weights: str | None = None
) -> tuple[DenseImageEncoder, ViewMaker]:
    """The encoder ``spec`` records, and its plain view, rebuilt exactly (as extract built them).

    ``weights`` replaces the recorded checkpoint path (a copy elsewhere); its sha256 must match.
    """
    pretrained = weights or spec.pretrained
    if spec.pretrained_sha256:  # a checkpoint file
        path = Path(pretrained)
        if not path.is_file():
            raise UserError(
                f"CLIP checkpoint {path} not found; pass the file the model was trained with"
                f" (sha256 {spec.pretrained_sha256})"
            )
        if sha256(path) != spec.pretrained_sha256:
            raise UserError(
                f"CLIP checkpoint {path} is not the one the model was trained with (sha256 {spec.pretrained_sha256})"
            )
    local = vit_local_path(spec.local_tokens)
    clip, encoder = create_encoder(
        spec.model, pretrained, spec.grid, local, spec.seed, device, spec.crops, spec.crop_size
    )
    got = (json_values(clip.preprocess_cfg), encoder.local_tokens)
    if got != (spec.preprocess, spec.local_tokens):
        raise UserError(
            f"open_clip {version('open_clip_torch')} builds {spec.model} otherwise than {spec.open_clip_version} did "
            f"(preprocessing {got[0]}, local tokens {got[1]!r}); install open_clip_torch=={spec.open_clip_version}"
        )
    return encoder, plain_views(clip)


def find_images(inputs: Iterable[Path]) -> list[str]:
    """The image files named by ``inputs`` (files, folders, manifests), in order, each once."""
    found: list[str] = []
    for item in inputs:
        if item.is_dir():
            found += sorted(str(p) for p in item.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        elif item.suffix.lower() in MANIFEST_FORMATS and item.is_file():
            found += _manifest_paths(item)
        elif item.is_file():
            found.append(str(item))
        else:
            raise UserError(
                f"input {item} not found; give image files, folders or manifests ({', '.join(MANIFEST_FORMATS)})"
            )
    return list(dict.fromkeys(found))


def _manifest_paths(manifest: Path) -> list[str]:
    rows = read_rows(manifest)
    if not rows or "path" not in rows[0]:
        raise UserError(f"manifest {manifest} needs a 'path' column (image files relative to its folder)")
    return [str(manifest.parent / str(row["path"]).strip()) for row in rows if str(row.get("path") or "").strip()]


@dataclass
class Predictions:
    paths: list[str]
    scores: np.ndarray  # (N, C) class probabilities
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why) of unreadable files


def predict_images(bundle: Bundle, paths: list[str], rt: Runtime, weights: str | None = None) -> Predictions:
    """Class scores of every readable image of ``paths``; the unreadable ones are listed, not fatal."""
    if not paths:
        raise UserError("no images found in the inputs")
    problems = [image_problem(p) for p in tqdm(paths, desc="check images", unit="img", disable=not rt.progress)]
    skipped = [(p, why) for p, why in zip(paths, problems) if why]
    readable = [p for p, why in zip(paths, problems) if not why]
    if not readable:
        raise UserError(f"none of the {len(paths)} images can be read (first: {skipped[0][0]}: {skipped[0][1]})")
    encoder, view = encoder_from_spec(bundle.encoder, rt.device, weights)
    model = bundle.model.to(rt.device)
    table = pa.table({"image_id": readable, "path": readable, "image": pa.nulls(len(readable), pa.binary())})
    scores = [np.zeros((0, len(bundle.classes)), dtype=np.float32)]
    for g, loc in encode_table(table, encoder, view, rt, desc="predict"):
        no_labels = np.zeros((len(g), len(bundle.classes)), dtype=np.float32)
        scores.append(predict(model, FeatureSet.from_arrays(g, loc, no_labels, device=rt.device)))
    return Predictions(readable, np.concatenate(scores), skipped)


def decide(
    bundle: Bundle, scores: np.ndarray, top_k: int | None = None, threshold: float | None = None
) -> list[list[str]]:
    """Each image's predicted class names, highest score first.

    By default a class is predicted when its score reaches the bundle's class-wise
    threshold. ``threshold`` replaces those by one value for every class; ``top_k`` keeps
    the ``top_k`` highest-scoring classes, those below ``threshold`` left out if it is given.
    """
    if top_k is not None:
        chosen = np.zeros_like(scores, dtype=bool)
        np.put_along_axis(chosen, np.argsort(-scores, axis=1, kind="stable")[:, :top_k], True, axis=1)
        if threshold is not None:
            chosen &= scores >= threshold
    else:
        chosen = scores >= threshold if threshold is not None else bundle.labels(scores)
    return [
        [bundle.classes[k] for k in sorted(np.flatnonzero(row), key=lambda k: -s[k])] for row, s in zip(chosen, scores)
    ]


def write_predictions(path: Path, classes: list[str], preds: Predictions, labels: list[list[str]]) -> None:
    """``path`` as CSV, JSON Lines or Parquet, by its extension: image path, labels, every class score.

    CSV and Parquet have one ``score_<class>`` column per class (CSV labels joined by ``|``);
    a JSON line is ``{"path", "labels", "scores": {class: score}}``.
    """
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise UserError(f"--output {path} should end in one of {', '.join(OUTPUT_FORMATS)}")
    score_columns = {f"score_{c}": preds.scores[:, k].astype(np.float32) for k, c in enumerate(classes)}
    with atomic_path(path) as tmp:
        if suffix == ".parquet":
            columns = {"path": pa.array(preds.paths, pa.string()), "labels": pa.array(labels, pa.list_(pa.string()))}
            pq.write_table(pa.table({**columns, **score_columns}), tmp, **PARQUET_OPTIONS)
        elif suffix == ".csv":
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(["path", "labels", *score_columns])
            for i, p in enumerate(preds.paths):
                w.writerow([p, "|".join(labels[i]), *(float(s) for s in preds.scores[i])])
            tmp.write_text(buf.getvalue())
        else:
            lines = (
                json.dumps({"path": p, "labels": labels[i], "scores": dict(zip(classes, map(float, preds.scores[i])))})
                for i, p in enumerate(preds.paths)
            )
            tmp.write_text("".join(line + "\n" for line in lines))
