"""What DVC shows of this repository reads well: narrow metrics tables, and plot pages that need no network.

``dvc metrics show`` prints one column per metric name across all metrics files, so those
files hold numbers only (sentences, counts and hashes are plain outputs). ``dvc plots show``
fills the page template that the repository's DVC config names, which carries vega inline
(``scripts/offline_plots.py`` writes it): the page must load nothing from elsewhere.
"""

from __future__ import annotations

import configparser
import json
import re
import subprocess
import sys
from pathlib import Path

import yaml
from tiny_params import REPO

#: The width `dvc metrics show` of the committed baseline may take: a wide terminal.
MAX_COLUMNS = 160

#: A tag that makes a browser fetch something: script or image sources, stylesheets, frames.
FETCHING_TAG = re.compile(r"<(?:script|img|iframe|link|source)\b[^>]*\b(?:src|href)\s*=", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"(<script\b[^>]*>).*?</script>", re.IGNORECASE | re.DOTALL)


def fetched(page: str) -> list[str]:
    """The tags of ``page``'s markup (inline scripts' code aside, which builds tooltips) that fetch something."""
    return FETCHING_TAG.findall(INLINE_SCRIPT.sub(r"\1</script>", page))


def dvc(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def declared_metrics() -> list[Path]:
    """Every file a pipeline of this repository declares under ``metrics:``, the JSON files of a declared folder."""
    paths = []
    for pipeline in [REPO / "dvc.yaml", *REPO.glob("models/*/dvc.yaml"), *REPO.glob("studies/*/dvc.yaml")]:
        spec = yaml.safe_load(pipeline.read_text())
        wdir = pipeline.parent
        for stage in spec["stages"].values():
            base = (wdir / stage.get("wdir", ".")).resolve()
            paths += [base / (m if isinstance(m, str) else next(iter(m))) for m in stage.get("metrics", [])]
    return [f for p in paths for f in (sorted(p.rglob("*.json")) if p.is_dir() or not p.suffix else [p])]


def leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in leaves(v)]
    return [value]


def test_metrics_files_hold_numbers_only():
    for path in declared_metrics():
        values = leaves(json.loads(path.read_text()))
        wordy = [v for v in values if isinstance(v, bool) or not isinstance(v, (int, float))]
        assert not wordy, f"{path.relative_to(REPO)} holds {wordy}: move it to a plain output (outs, cache: false)"


def test_dvc_metrics_show_of_the_baseline_fits_a_wide_terminal():
    lines = dvc("metrics", "show").splitlines()
    assert lines and lines[0].startswith("Path")
    assert max(len(line) for line in lines) <= MAX_COLUMNS


def page_template() -> Path:
    """The page template the repository's DVC config names (relative to .dvc/, as DVC reads it)."""
    config = configparser.ConfigParser()
    config.read(REPO / ".dvc" / "config")
    return REPO / ".dvc" / config["plots"]["html_template"]


def test_the_check_sees_the_cdn_tags_of_dvcs_own_page():
    from dvc_render.vega import VegaRenderer

    assert len(fetched(VegaRenderer.SCRIPTS)) == 3


def test_the_plots_page_template_carries_vega_and_fetches_nothing():
    page = page_template().read_text()
    assert "{plot_divs}" in page and "{scripts}" not in page  # no {scripts}: DVC adds no CDN tags
    assert "window.vegaEmbed" in page
    assert not fetched(page)
    assert page_template().stat().st_size < 2_000_000


def test_dvc_plots_show_writes_a_page_that_fetches_nothing(tmp_path):
    dvc("plots", "show", "-o", str(tmp_path))
    page = (tmp_path / "index.html").read_text()
    assert "vegaEmbed('#" in page and "window.vegaEmbed" in page
    assert not fetched(page)
