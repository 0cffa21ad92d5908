"""ssmll.method.featureset: features held once in fp16, gathered per batch as float32, scored in batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssmll.method.featureset import FeatureSet, map_batches, predict
from ssmll.method.model import AlignmentModel, ModelConfig

N, V, T, D, C = 50, 3, 4, 8, 5


def features(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((N, V, D)).astype(np.float16)
    loc = rng.standard_normal((N, V, T, D)).astype(np.float16)
    return g, loc, (rng.random((N, C)) < 0.3).astype(np.float32)


def model() -> AlignmentModel:
    torch.manual_seed(0)
    return AlignmentModel(torch.randn(C, D), torch.eye(C)[:, :2], ModelConfig())


def test_fp16_arrays_are_held_without_a_copy_on_cpu():
    g, loc, y = features()
    fs = FeatureSet.from_arrays(g, loc, y)
    assert fs.local.dtype == torch.float16 and fs.on_device
    assert fs.local.data_ptr() == loc.ctypes.data and fs.global_.data_ptr() == g.ctypes.data
    assert fs.nbytes == g.nbytes + loc.nbytes and len(fs) == N and fs.views == V


def test_float32_arrays_are_stored_as_fp16():
    g, loc, y = features()
    fs = FeatureSet.from_arrays(g.astype(np.float32), loc.astype(np.float32), y)
    assert fs.global_.dtype == fs.local.dtype == torch.float16
    np.testing.assert_array_equal(fs.local.numpy(), loc)


def test_a_batch_is_float32_of_the_asked_rows_and_views():
    g, loc, y = features()
    fs = FeatureSet.from_arrays(g, loc, y)
    rows, views = np.array([7, 2, 7, 40]), np.array([0, 2, 1, 1])
    bg, bloc = fs.batch(rows, views)
    assert bg.dtype == bloc.dtype == torch.float32
    np.testing.assert_array_equal(bg.numpy(), g[rows, views].astype(np.float32))
    np.testing.assert_array_equal(bloc.numpy(), loc[rows, views].astype(np.float32))
    bg0, _ = fs.batch(rows)
    np.testing.assert_array_equal(bg0.numpy(), g[rows, 0].astype(np.float32))


def test_global_array_is_view_zero_on_the_host():
    g, loc, y = features()
    fs = FeatureSet.from_arrays(g, loc, y)
    np.testing.assert_array_equal(fs.global_array(), g[:, 0].astype(np.float32))
    np.testing.assert_array_equal(fs.global_array(np.array([3, 1])), g[[3, 1], 0].astype(np.float32))


def test_predict_on_rows_equals_predict_on_a_set_of_those_rows():
    g, loc, y = features()
    rows = np.array([4, 9, 30, 31])
    whole = FeatureSet.from_arrays(g, loc, y)
    part = FeatureSet.from_arrays(g[rows], loc[rows], y[rows])
    np.testing.assert_array_equal(predict(model(), whole, rows), predict(model(), part))
    assert predict(model(), whole, np.array([], dtype=np.int64)).shape == (0, C)


def test_inference_gathers_one_batch_at_a_time(monkeypatch):
    g, loc, y = features()
    fs = FeatureSet.from_arrays(g, loc, y)
    sizes: list[int] = []
    real = FeatureSet.batch
    monkeypatch.setattr(
        FeatureSet, "batch", lambda self, rows, views=0: sizes.append(len(rows)) or real(self, rows, views)
    )
    out = map_batches(lambda bg, bloc: bg[:, :C] + bloc.sum(1)[:, :C], fs, batch_size=16)
    assert sizes == [16, 16, 16, 2]
    np.testing.assert_allclose(
        out, g[:, 0, :C].astype(np.float32) + loc[:, 0].astype(np.float32).sum(1)[:, :C], rtol=1e-6
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_on_cuda_the_features_and_the_scores_agree_with_cpu():
    g, loc, y = features()
    cpu, gpu = FeatureSet.from_arrays(g, loc, y), FeatureSet.from_arrays(g, loc, y, "cuda")
    assert gpu.local.is_cuda and gpu.on_device
    np.testing.assert_allclose(predict(model().cuda(), gpu), predict(model(), cpu), atol=1e-5)
