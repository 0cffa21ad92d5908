"""Loading an open_clip model by name, offline first, and encoding images and prompts.

``pretrained`` is ``none`` (random weights, seeded), a path to a local checkpoint
file, or an open_clip tag such as ``openai``. A tag whose weights are neither in the
local cache nor reachable fails in seconds with a message naming the alternatives,
rather than sitting in download retries.
"""

from __future__ import annotations

import os
import pickle
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import open_clip
import torch
import torch.nn.functional as F

from ssmll.core.errors import UserError

_PROBE_TIMEOUT_S = 3.0

#: The project's own architectures (e.g. the embedded digit CLIP), one open_clip JSON config each.
MODEL_CONFIGS = Path(__file__).parents[1] / "model_configs"


def register_model_configs() -> None:
    """Make the architectures in ``MODEL_CONFIGS`` known to open_clip by name, once.

    open_clip keeps a registry of configs by name; adding ours there (rather than
    building the model by hand) lets ``create_model``, tokenizers and checkpoints treat
    them like any other architecture.
    """
    ours = {p.stem for p in MODEL_CONFIGS.glob("*.json")}
    if not ours <= set(open_clip.list_models()):
        open_clip.add_model_config(MODEL_CONFIGS)


@dataclass
class LoadedClip:
    model: torch.nn.Module
    preprocess_cfg: dict
    tokenizer: object
    dim: int


def load_clip(name: str, pretrained: str, seed: int = 0, device: str = "cpu") -> LoadedClip:
    """Create ``name`` with weights from ``pretrained`` (``none``, a file path, or a tag)."""
    register_model_configs()
    if name not in open_clip.list_models():
        raise UserError(
            f"unknown CLIP architecture {name!r}; pick one of open_clip.list_models(), e.g. ViT-B-16, ViT-S-32, RN50"
        )
    kwargs: dict = {}
    if pretrained.lower() == "none":
        weights = None
    elif _looks_like_path(pretrained):
        if not Path(pretrained).is_file():
            raise UserError(f"clip.pretrained checkpoint {pretrained} not found; give an existing file, a tag, or none")
        weights = pretrained
    else:
        weights, kwargs = _resolve_tag(name, pretrained)
    torch.manual_seed(seed)
    try:
        model = open_clip.create_model(name, pretrained=weights, device=device, **kwargs)
    except (RuntimeError, KeyError, ValueError, OSError, pickle.UnpicklingError) as e:
        first = (str(e).splitlines() or [""])[0]
        raise UserError(f"cannot load clip.pretrained={pretrained} into {name}: {type(e).__name__}: {first}") from e
    model.eval()
    cfg = dict(model.visual.preprocess_cfg)
    return LoadedClip(model, cfg, open_clip.get_tokenizer(name), _embed_dim(model))


def _looks_like_path(value: str) -> bool:
    return os.sep in value or value.endswith((".pt", ".pth", ".bin", ".safetensors", ".ckpt"))


def _resolve_tag(name: str, tag: str) -> tuple[str, dict]:
    """A cached weights file for an open_clip tag, downloading only if the host answers."""
    cfg = open_clip.get_pretrained_cfg(name, tag)
    if not cfg:
        tags = open_clip.list_pretrained_tags_by_model(name)
        raise UserError(
            f"{name} has no pretrained tag {tag!r} (known: {', '.join(tags) or 'none'}); "
            "use one of those, a local checkpoint path, or none"
        )
    kwargs = {"force_quick_gelu": bool(cfg.get("quick_gelu", False))}
    preprocess = {k: cfg[k] for k in ("mean", "std", "interpolation", "resize_mode") if k in cfg}
    if preprocess:
        kwargs["force_preprocess_cfg"] = preprocess
    cached = cached_weights(cfg)
    if cached:
        return cached, kwargs
    host = _download_host(cfg)
    if not _reachable(host):
        raise UserError(
            f"pretrained weights {name}/{tag} are not in the local cache and {host[0]} cannot be reached; "
            "set clip.pretrained to a local checkpoint file "
            "(e.g. -S clip.pretrained=/path/to/open_clip_model.safetensors) "
            "or to none for random weights"
        )
    return open_clip.download_pretrained(cfg), kwargs


def cached_weights(cfg: dict) -> str | None:
    """The local file of a tag's weights if open_clip or the HF cache already holds it."""
    hub = cfg.get("hf_hub", "")
    if hub:
        from huggingface_hub import try_to_load_from_cache

        repo, filename = os.path.split(hub)
        names = [filename] if filename else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
        if filename.endswith((".bin", ".pth")):
            names.insert(0, filename[:-4] + ".safetensors")
        for fn in names:
            hit = try_to_load_from_cache(repo, fn)
            if isinstance(hit, str):
                return hit
    url = cfg.get("url", "")
    if url:
        target = Path(os.path.expanduser("~/.cache/clip")) / os.path.basename(url)
        if target.is_file():
            return str(target)
    return None


def _download_host(cfg: dict) -> tuple[str, int]:
    """Host and port the tag's weights would come from."""
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co") if cfg.get("hf_hub") else cfg.get("url", ""))
    return url.hostname or "the download host", url.port or (80 if url.scheme == "http" else 443)


def _reachable(host: tuple[str, int]) -> bool:
    """One TCP connect, name lookup included, within a few seconds; offline switches skip it."""
    if any(os.environ.get(v, "").upper() in ("1", "ON", "YES", "TRUE") for v in ("HF_HUB_OFFLINE", "SSMLL_OFFLINE")):
        return False
    result: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection(host, timeout=_PROBE_TIMEOUT_S).close()
            result.append(True)
        except OSError:
            result.append(False)

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(_PROBE_TIMEOUT_S + 0.5)  # a hung name lookup is abandoned, not waited for
    return bool(result and result[0])


def _embed_dim(model: torch.nn.Module) -> int:
    proj = getattr(model, "text_projection", None)
    if isinstance(proj, torch.nn.Linear):
        return proj.out_features
    if isinstance(proj, torch.Tensor):
        return proj.shape[1]
    return int(model.visual.output_dim)


#: The ViT local-token paths ``extract.vit_local`` names, and how the encoder record describes each.
VIT_LOCAL = {
    "block": "vit: patch tokens through the final norm and projection",
    "value": "vit: the last block's value path (MaskCLIP), through the final norm and projection",
}
RESNET_LOCAL = "resnet: the attention pool's value path at every position"


def crop_tokens(crops: int, crop_size: float) -> str:
    """How an encoder record describes local tokens that are zoomed crops."""
    return f"crops: {crops} x {crops} zoomed crops of side {crop_size:g}, each CLIP's global embedding"


def zoomed_crops(x: torch.Tensor, crops: int, crop_size: float) -> torch.Tensor:
    """(crops² · B, C, H, W): each of ``crops x crops`` evenly spread crops of ``x``, resized back to H x W.

    Crop-major (every image's first crop, then every image's second, ...), bicubic as CLIP's
    own preprocessing resizes.
    """
    h, w = x.shape[-2:]
    ch, cw = max(1, round(h * crop_size)), max(1, round(w * crop_size))
    tops = torch.linspace(0, h - ch, crops).round().int().tolist()
    lefts = torch.linspace(0, w - cw, crops).round().int().tolist()
    tiles = [x[..., t : t + ch, left : left + cw] for t in tops for left in lefts]
    return F.interpolate(torch.cat(tiles), size=(h, w), mode="bicubic", align_corners=False)


def vit_local_path(local_tokens: str) -> str:
    """The ``extract.vit_local`` value of an encoder record's ``local_tokens`` (ResNet: ``block``, unused)."""
    return next((name for name, text in VIT_LOCAL.items() if text == local_tokens), "block")


class DenseImageEncoder(torch.nn.Module):
    """CLIP image tower returning the global embedding and local embeddings on a grid.

    ViT: the patch tokens, through the final norm and the projection, either as the last
    block outputs them (``vit_local="block"``: its query-key attention and MLP) or along
    the last block's value path alone (``"value"``: value then output projection, no
    query-key mixing, no residual or MLP, as MaskCLIP takes dense features).
    ModifiedResNet: the attention pool's value path (value then output projection) at
    every position, as DualCoOp does. Both are pooled to ``grid x grid`` positions and
    L2-normalised. The global embedding is CLIP's own either way. ``local_tokens`` names
    the path taken, for the records that must rebuild this encoder.

    With ``crops`` > 0 the local embeddings are instead CLIP's global embeddings of
    ``crops x crops`` zoomed crops (side ``crop_size`` of the image's, spread evenly from
    corner to corner, resized back to the input size). A small object that the whole
    image's embedding drowns among its neighbours fills a good share of a crop; on the
    default scenes' labeled part the quadrants lift label-specific zero-shot from 48.0 (the
    global embedding) to 70.7 mAP, where the patch tokens stay at 49.2 (docs/embedded-clip.md).
    """

    def __init__(
        self, visual: torch.nn.Module, grid: int, vit_local: str = "block", crops: int = 0, crop_size: float = 0.5
    ):
        super().__init__()
        self.visual = visual
        self.grid = grid
        if vit_local not in VIT_LOCAL:
            raise UserError(f"extract.vit_local={vit_local!r}; choose one of {', '.join(VIT_LOCAL)}")
        self.vit_local = vit_local
        self.crops, self.crop_size = crops, crop_size
        if isinstance(visual, open_clip.transformer.VisionTransformer):
            if visual.attn_pool is not None:
                raise UserError("CLIP towers with attentional pooling (CoCa) are not supported for dense features")
            self._dense = self._vit
            self.local_tokens = VIT_LOCAL[vit_local]
        elif isinstance(visual, open_clip.modified_resnet.ModifiedResNet):
            self._dense = self._resnet
            self.local_tokens = RESNET_LOCAL
        else:
            raise UserError(f"dense features need a ViT or ModifiedResNet image tower, not {type(visual).__name__}")
        if crops:
            self.local_tokens = crop_tokens(crops, crop_size)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled, fmap = self._dense(x)
        if self.crops:
            local = self._dense(zoomed_crops(x, self.crops, self.crop_size))[0]
            local = local.unflatten(0, (self.crops**2, x.shape[0])).transpose(0, 1)
        else:
            local = F.adaptive_avg_pool2d(fmap, self.grid).flatten(2).transpose(1, 2)
        return F.normalize(pooled.float(), dim=-1), F.normalize(local.float(), dim=-1)

    def _vit(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v = self.visual
        *early, last = v.transformer.resblocks
        h = v._embeds(x)
        if not v.transformer.batch_first:
            h = h.transpose(0, 1)
        for block in early:
            h = block(h)
        out = last(h)
        if not v.transformer.batch_first:
            h, out = h.transpose(0, 1), out.transpose(0, 1)
        pooled, patches = v._pool(out)
        if self.vit_local == "value":
            _, patches = v._pool(_value_path(last, h))
        if v.proj is not None:
            pooled, patches = pooled @ v.proj, patches @ v.proj
        side = int(round(patches.shape[1] ** 0.5))
        return pooled, patches.transpose(1, 2).reshape(x.shape[0], -1, side, side)

    def _resnet(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v = self.visual
        fmap = v.layer4(v.layer3(v.layer2(v.layer1(v.stem(x)))))
        pooled = v.attnpool(fmap)
        pool = v.attnpool
        n, c, h, w = fmap.shape
        pos = pool.positional_embedding[1:]
        side = int(round(pos.shape[0] ** 0.5))
        if (h, w) != (side, side):
            grid_pos = pos.T.reshape(1, c, side, side)
            pos = F.interpolate(grid_pos, size=(h, w), mode="bicubic", align_corners=False).reshape(c, h * w).T
        tokens = fmap.flatten(2).transpose(1, 2) + pos.to(fmap.dtype)
        values = pool.c_proj(pool.v_proj(tokens))
        return pooled, values.transpose(1, 2).reshape(n, -1, h, w)


def _value_path(block: torch.nn.Module, h: torch.Tensor) -> torch.Tensor:
    """A residual attention block's value path on tokens ``h`` (N, L, D): out_proj(W_v ln_1(h) + b_v)."""
    attn = getattr(block, "attn", None)
    if not isinstance(attn, torch.nn.MultiheadAttention) or attn.in_proj_weight is None:
        raise UserError("extract.vit_local=value needs open_clip's standard attention blocks; use block")
    d = attn.embed_dim
    bias = attn.in_proj_bias[2 * d :] if attn.in_proj_bias is not None else None
    return attn.out_proj(F.linear(block.ln_1(h), attn.in_proj_weight[2 * d :], bias))


@torch.inference_mode()
def encode_prompts(clip: LoadedClip, names: list[str], templates: list[str], device: str = "cpu") -> torch.Tensor:
    """Per class, the normalised mean of its normalised template embeddings: (C, D)."""
    if not templates or any("{}" not in t for t in templates):
        raise UserError("extract.templates must be a non-empty list of strings that each contain {}")
    out = []
    for name in names:
        tokens = clip.tokenizer([t.format(name) for t in templates]).to(device)
        emb = F.normalize(clip.model.encode_text(tokens).float(), dim=-1)
        out.append(F.normalize(emb.mean(0), dim=-1))
    return torch.stack(out).cpu()
