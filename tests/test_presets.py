"""Dataset presets: conf/ composes (as `dvc exp run` does it) to params.yaml and to valid presets."""

from __future__ import annotations

import configparser
import dataclasses
from pathlib import Path

import pytest
import yaml
from dvc.utils.hydra import compose_and_dump

from ssmll.core.config import from_params
from ssmll.data.scenes.prompts import OBJECT_TEMPLATES
from ssmll.data.sources.registry import SOURCES, DataConfig

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
PRESETS = sorted(p.stem for p in (CONF / "data").glob("*.yaml"))
#: The presets of the embedded worlds, which bring their own embedded CLIP; the others use a real one.
EMBEDDED = ("digits", "objects")


def compose(tmp_path: Path, *overrides: str) -> dict:
    """params.yaml as DVC's Hydra composition writes it for ``dvc exp run -S <overrides>``."""
    out = tmp_path / "params.yaml"
    compose_and_dump(out, str(CONF), None, "config", str(tmp_path), list(overrides))
    return yaml.safe_load(out.read_text())


def differences(a: object, b: object, where: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            d for k in sorted(a.keys() | b.keys(), key=str) for d in differences(a.get(k), b.get(k), f"{where}.{k}")
        ]
    return [] if a == b else [f"{where.lstrip('.')}: conf/ gives {a!r}, params.yaml has {b!r}"]


def test_params_yaml_is_the_composition_of_conf(tmp_path):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    diff = differences(compose(tmp_path), params)
    assert not diff, (
        "params.yaml and conf/ disagree (edit both; `dvc exp run` rewrites params.yaml from conf/): " + "; ".join(diff)
    )


def test_dvc_has_hydra_composition_on():
    config = configparser.ConfigParser()
    config.read(REPO / ".dvc" / "config")
    assert config.get("hydra", "enabled", fallback="false").strip() == "true"


def test_every_source_has_a_preset():
    assert set(PRESETS) == set(SOURCES)


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_selects_its_source_with_the_documented_defaults(tmp_path, preset):
    params = compose(tmp_path, f"data={preset}")
    data = params["data"]
    assert data["source"] == preset
    cls, _ = SOURCES[preset]
    options = (
        {"seed": data["seed"], **data[preset]} if "seed" in {f.name for f in dataclasses.fields(cls)} else data[preset]
    )
    assert set(data[preset]) == {f.name for f in dataclasses.fields(cls)} - {"seed"}, "a preset lists all its options"
    assert from_params(cls, options, f"data.{preset}") == cls(), "preset = code defaults"
    from_params(DataConfig, {k: v for k, v in data.items() if k not in SOURCES}, "data")
    assert set(params) == set(compose(tmp_path)), "a preset changes values, never the param sections"
    if preset not in EMBEDDED:
        assert (params["clip"]["model"], params["clip"]["pretrained"], params["extract"]["hflip"]) == (
            "ViT-B-16",
            "openai",
            0.5,
        )


def test_the_objects_preset_prompts_as_its_embedded_clip_is_judged(tmp_path):
    params = compose(tmp_path, "data=objects")
    assert params["extract"]["templates"] == list(OBJECT_TEMPLATES)
    assert (params["clip"]["model"], params["extract"]["hflip"]) == ("ssmll-digits-ViT-8", 0.0)


def test_preset_options_can_be_overridden_on_the_command_line(tmp_path):
    params = compose(tmp_path, "data=voc2007", "data.voc2007.difficult=positive", "split.lb_ratio=0.2")
    assert params["data"]["voc2007"]["difficult"] == "positive" and params["split"]["lb_ratio"] == 0.2
    params = compose(tmp_path, "data=voc2012", "+data.prompt_names.tvmonitor=television")
    assert params["data"]["prompt_names"] == {"tvmonitor": "television"}
