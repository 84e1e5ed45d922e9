"""LayerDiffuse weight files: locating them, strict key checks, the UNet offset merge.

The official weights live in the Hugging Face repository :data:`HUB_REPO`. A
weight "spec" is a local ``.safetensors`` file, a local folder holding the file
under its official name, or (when online) a hub id ``owner/name`` or
``owner/name/file.safetensors``.
"""
from __future__ import annotations

import os
import re

import torch

__all__ = [
    "DECODER_FILE",
    "HUB_REPO",
    "UNET_OFFSET_FILE",
    "WeightsMismatchError",
    "check_model_folder",
    "check_state_dict",
    "load_weights",
    "merge_unet_offset",
    "resolve_weights",
]

HUB_REPO = "lllyasviel/LayerDiffuse_Diffusers"
UNET_OFFSET_FILE = "ld_diffusers_sdxl_attn.safetensors"
DECODER_FILE = "ld_diffusers_sdxl_vae_transparent_decoder.safetensors"

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(/.+\.safetensors)?$")


class WeightsMismatchError(ValueError):
    """A state dict does not fit its model: lists missing, unexpected and mis-shaped keys."""

    def __init__(self, what: str, missing, unexpected, mismatched, limit: int = 8):
        self.missing, self.unexpected, self.mismatched = list(missing), list(unexpected), list(mismatched)
        lines = [f"{what}: the weights do not match the model"]
        for title, items in (("missing", self.missing), ("unexpected", self.unexpected)):
            if items:
                shown = ", ".join(items[:limit]) + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")
                lines.append(f"  {len(items)} {title} key(s): {shown}")
        if self.mismatched:
            shown = ", ".join(f"{k} {tuple(got)} (model {tuple(want)})" for k, got, want in self.mismatched[:limit])
            more = f", ... ({len(self.mismatched) - limit} more)" if len(self.mismatched) > limit else ""
            lines.append(f"  {len(self.mismatched)} mis-shaped key(s): {shown}{more}")
        super().__init__("\n".join(lines))


def check_state_dict(model_state: dict, weights: dict, what: str, *, allow_missing: bool = False) -> None:
    """Raise :class:`WeightsMismatchError` unless ``weights`` fits ``model_state`` key for key and shape for shape.

    Parameters
    ----------
    model_state : dict
        The model's ``state_dict()`` (tensors, possibly on the meta device).
    weights : dict
        Tensors to load.
    what : str
        Name used in the message (e.g. the file).
    allow_missing : bool
        Accept weights that cover only part of the model (an offset, a partial patch).

    Examples
    --------
    >>> import torch
    >>> from ldmatte.generate.weights import check_state_dict
    >>> check_state_dict({"w": torch.zeros(2)}, {"w": torch.ones(3), "b": torch.ones(1)}, "demo")
    Traceback (most recent call last):
    ...
    ldmatte.generate.weights.WeightsMismatchError: demo: the weights do not match the model
      1 unexpected key(s): b
      1 mis-shaped key(s): w (3,) (model (2,))
    """
    missing = [] if allow_missing else [k for k in model_state if k not in weights]
    unexpected = [k for k in weights if k not in model_state]
    mismatched = [
        (k, tuple(v.shape), tuple(model_state[k].shape))
        for k, v in weights.items()
        if k in model_state and tuple(v.shape) != tuple(model_state[k].shape)
    ]
    if missing or unexpected or mismatched:
        raise WeightsMismatchError(what, missing, unexpected, mismatched)


def resolve_weights(spec, filename: str) -> str:
    """Local path of a weight file given a file, a folder holding ``filename``, or a hub id.

    Raises FileNotFoundError with the folder's ``.safetensors`` files when a local
    folder lacks ``filename``, and a RuntimeError naming the hub id when a download
    fails (no network: pass a local path).
    """
    path = os.fspath(spec)
    if os.path.isfile(path):
        return path
    if os.path.isdir(path):
        candidate = os.path.join(path, filename)
        if os.path.isfile(candidate):
            return candidate
        found = sorted(f for f in os.listdir(path) if f.endswith(".safetensors"))
        raise FileNotFoundError(f"{filename} not found in {path} (it holds: {', '.join(found) or 'no .safetensors'})")
    if not _HUB_ID.match(path):
        raise FileNotFoundError(f"no such weight file or folder: {path}")
    parts = path.split("/")
    repo, name = "/".join(parts[:2]), "/".join(parts[2:]) or filename
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as exc:  # pragma: no cover - diffusers depends on it
        raise RuntimeError(f"{path} is not a local file; fetching it from the hub needs huggingface_hub") from exc
    try:
        return hf_hub_download(repo, name)
    except Exception as exc:
        raise RuntimeError(
            f"could not fetch {name} from the hub repository {repo} ({type(exc).__name__}: {exc}); "
            "download it once and pass the local file or folder"
        ) from exc


# Weight files of a diffusers / transformers component folder, optionally a variant and
# shards: diffusion_pytorch_model[.fp16][-00001-of-00002].safetensors, model.fp16.safetensors,
# pytorch_model.bin, diffusion_pytorch_model.safetensors.index.fp16.json ...
_WEIGHT_FILE = re.compile(
    r"^(?:diffusion_pytorch_model|model|pytorch_model|diffusion_flax_model|flax_model)"
    r"(?:\.(?P<variant>[A-Za-z0-9_]+))?(?:-\d+-of-\d+)?\.(?:safetensors|bin|msgpack)$"
)
_WEIGHT_INDEX = re.compile(
    r"^(?:diffusion_pytorch_model|model|pytorch_model)\.(?:safetensors|bin)\.index(?:\.(?P<variant>[A-Za-z0-9_]+))?\.json$"
)


def _weight_variants(folder: str) -> dict:
    """{variant or None: [file names]} of the weight files in one component folder."""
    found: dict = {}
    for name in sorted(os.listdir(folder)):
        m = _WEIGHT_FILE.match(name) or _WEIGHT_INDEX.match(name)
        if m:
            found.setdefault(m.group("variant"), []).append(name)
    return found


def check_model_folder(path, variant: str | None = None,
                       components=("unet", "vae", "text_encoder", "text_encoder_2")) -> None:  # fmt: skip
    """Check that a local diffusers folder holds weights of ``variant`` for every component.

    Does nothing for hub ids and for folders without ``model_index.json`` (diffusers
    reports those). Raises FileNotFoundError naming each component that has no weight
    file of the requested variant and the variants it does hold, e.g. a folder with only
    ``*.fp16.safetensors`` loaded without ``variant="fp16"``. A requested variant missing
    where plain files exist is accepted (diffusers falls back to the plain files).

    Examples
    --------
    >>> import os, tempfile
    >>> from ldmatte.generate.weights import check_model_folder
    >>> root = tempfile.mkdtemp()
    >>> _ = open(os.path.join(root, "model_index.json"), "w").write('{"unet": ["diffusers", "UNet2DConditionModel"]}')
    >>> os.mkdir(os.path.join(root, "unet"))
    >>> _ = open(os.path.join(root, "unet", "diffusion_pytorch_model.fp16.safetensors"), "wb")
    >>> check_model_folder(root, "fp16")
    >>> check_model_folder(root)
    Traceback (most recent call last):
    ...
    FileNotFoundError: ... unet holds only the variant(s) fp16 (diffusion_pytorch_model.fp16.safetensors): pass variant fp16 ...
    """
    import json

    path = os.fspath(path)
    index = os.path.join(path, "model_index.json")
    if not os.path.isfile(index):
        return
    with open(index, encoding="utf-8") as f:
        listed = json.load(f)
    problems = []
    for comp in components:
        entry = listed.get(comp)
        if not isinstance(entry, list) or entry[0] is None:
            continue  # optional component left out of this model
        folder = os.path.join(path, comp)
        found = _weight_variants(folder) if os.path.isdir(folder) else {}
        if variant in found or (variant is not None and None in found):
            continue
        if not found:
            problems.append(f"{comp} has no weight files")
            continue
        held = sorted(found, key=lambda v: (v is not None, v or ""))
        names = ", ".join(n for v in held for n in found[v])
        tags = ", ".join("plain" if v is None else v for v in held)
        how = "pass variant " + " or ".join(v for v in held if v) if any(held) else "leave the variant unset"
        problems.append(f"{comp} holds only the variant(s) {tags} ({names}): {how}")
    if problems:
        wanted = f"variant {variant!r}" if variant else "plain (no variant) weights"
        raise FileNotFoundError(f"the SDXL folder {path} lacks {wanted}: " + "; ".join(problems)
                                + " (the command line option is --variant)")  # fmt: skip


def load_weights(spec, filename: str) -> dict:
    """Tensors of a safetensors weight file (see :func:`resolve_weights`), on the CPU."""
    from safetensors.torch import load_file

    return load_file(resolve_weights(spec, filename), device="cpu")


@torch.no_grad()
def merge_unet_offset(unet: torch.nn.Module, offset: dict, what: str = "UNet offset") -> int:
    """Patch ``unet`` in place: weight = base + offset for every key of ``offset``.

    Every offset key must be a key of the UNet's state dict with the same shape
    (:class:`WeightsMismatchError` otherwise, before anything is changed). The sum
    is taken in float32 and cast back to each weight's dtype, so a half-precision
    UNet is patched with one rounding instead of two.

    Returns
    -------
    patched : int
        Number of tensors changed.

    Examples
    --------
    >>> import torch
    >>> from ldmatte.generate.weights import merge_unet_offset
    >>> net = torch.nn.Linear(2, 1); net.weight.data[:] = 1
    >>> merge_unet_offset(net, {"weight": torch.full((1, 2), 0.5)}), net.weight.tolist()
    (1, [[1.5, 1.5]])
    """
    state = unet.state_dict(keep_vars=True)
    check_state_dict(state, offset, what, allow_missing=True)
    for key, delta in offset.items():
        target = state[key]
        target.copy_((target.float() + delta.to(target.device, torch.float32)).to(target.dtype))
    return len(offset)
