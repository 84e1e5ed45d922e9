"""The Layer Diffusion source: prompt records -> SDXL + LayerDiffuse -> raw and refined RGBA.

Generation, decoding and refinement run in :class:`ldmatte.generate.LayerDiffusionPipeline`
(refinement on the device, right after decoding); every image has its own seed,
derived from the run seed and its id, so a sample does not depend on its batch,
its shard or an interruption. Model identifiers and the weight hashes that are
known go into every manifest line.
"""
from __future__ import annotations

import hashlib
import os
import re

from .manifest import check_id
from .sources import Produced

__all__ = ["LayerDiffusionSource", "file_sha256", "weights_identity"]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def file_sha256(path: str, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def weights_identity(path: str, hash_files: bool = True) -> dict:
    """What identifies a weight file: its sha256 (the hub cache names blobs by it; else hashed if asked)."""
    real = os.path.realpath(path)
    name = os.path.basename(real)
    if _SHA256.match(name):  # a Hugging Face cache blob: the name is the content hash
        return {"sha256": name}
    parts = real.split(os.sep)
    ident = {}
    if "snapshots" in parts[:-1]:
        ident["revision"] = parts[parts.index("snapshots") + 1]
    if hash_files and os.path.isfile(real):
        ident["sha256"] = file_sha256(real)
    return ident


_UNET_FILES = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors",
               "diffusion_pytorch_model.bin")  # fmt: skip


def _cached_hub_files(repo: str) -> dict:
    """UNet weight files of a hub model already in the local cache (no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - diffusers depends on it
        return {}
    found = {}
    for name in _UNET_FILES:
        try:
            path = try_to_load_from_cache(repo, f"unet/{name}")
        except Exception:  # an id the hub client rejects: nothing known
            return {}
        if isinstance(path, str):
            found[name] = weights_identity(path, hash_files=False)
    return found


def model_load_error(base_model: str, exc: BaseException) -> RuntimeError:
    """One line for a base model that does not load, naming it and the first line of the reason.

    diffusers' own message for a name that is neither a folder nor a cached
    hub model ends "check out the root cause in the stacktrace above", and no
    stack trace is shown to a command's user.
    """
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0].split(" Please check out the root cause")[0]
    if not os.path.exists(base_model):
        return RuntimeError(f"base model {base_model}: no such folder, and not a model this machine's hub cache "
                            f"holds ({first.rstrip('.')})")  # fmt: skip
    return RuntimeError(f"base model {base_model} does not load: {type(exc).__name__}: {first}")


def _base_model_identity(base_model: str) -> dict:
    """Base model: the UNet weight files' hashes where the hub cache names them (never re-hashed: gigabytes)."""
    local = os.path.exists(base_model)
    ident = {"name": os.path.basename(os.path.normpath(base_model)) if local else base_model}
    if not local:
        unet = _cached_hub_files(base_model)
    else:
        folder = os.path.join(base_model, "unet")
        names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
        unet = {n: weights_identity(os.path.join(folder, n), hash_files=False) for n in names
                if n.endswith((".safetensors", ".bin"))}  # fmt: skip
    if unet:
        ident["unet"] = unet
    return ident


class LayerDiffusionSource:
    """Prompt records (``id``, ``prompt``, ``negative_prompt``, ``attributes``) to generated samples.

    Parameters
    ----------
    records : list of dict
        E.g. ``ldmatte.prompts.read_jsonl(path)``.
    base_model, layerdiffuse_weights : str
        As in :meth:`LayerDiffusionPipeline.from_pretrained`.
    steps, guidance, batch_size, device, dtype, seed, height, width
        Sampling settings; ``seed`` is the run seed (image seeds derive from it and the id).
    pipeline_kwargs : dict, optional
        More :meth:`~LayerDiffusionPipeline.from_pretrained` arguments (``decoder_config``, ``scheduler``...).
    """

    name = "layerdiffusion"

    def __init__(self, records, base_model, layerdiffuse_weights, *, steps=25, guidance=7.0, batch_size=4,
                 device=None, dtype=None, seed=0, height=1024, width=1024, negative_prompt=None,
                 pipeline_kwargs=None, refine_kwargs=None):  # fmt: skip
        if batch_size < 1 or steps < 1:
            raise ValueError("batch_size and steps must be >= 1")
        self.records = {}
        for rec in records:
            self.records.setdefault(check_id(str(rec["id"])), rec)
        self.base_model, self.weights = str(base_model), str(layerdiffuse_weights)
        self.steps, self.guidance, self.batch_size, self.seed = int(steps), float(guidance), int(batch_size), int(seed)
        self.height, self.width, self.negative_prompt = int(height), int(width), negative_prompt
        self.device, self.dtype = device, dtype
        self.pipeline_kwargs = dict(pipeline_kwargs or {})
        self.refine_kwargs = dict(refine_kwargs or {})  # ldmatte.refine keywords of the refinement on the device
        self._pipe = None
        self._model = None

    def ids(self) -> list[str]:
        return list(self.records)

    def _load(self):
        import torch

        from ..generate import LayerDiffusionPipeline

        self.device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = self.dtype or ("fp16" if str(self.device).startswith("cuda") else "fp32")
        try:
            pipe = LayerDiffusionPipeline.from_pretrained(self.base_model, self.weights, device=self.device,
                                                          dtype=self.dtype, **self.pipeline_kwargs)  # fmt: skip
        except (ValueError, FileNotFoundError, TypeError):  # ldmatte's own checks: already one clear line
            raise
        except Exception as exc:  # diffusers' messages may point at a stack trace nobody is shown
            raise model_load_error(self.base_model, exc) from None
        pipe.sdxl.set_progress_bar_config(disable=True)
        self._pipe = pipe
        return pipe

    def model(self) -> dict:
        """Model identifiers for the manifest (hashes of the LayerDiffuse files computed once)."""
        if self._model is None:
            from ..generate.weights import DECODER_FILE, UNET_OFFSET_FILE, resolve_weights

            files = {name: weights_identity(resolve_weights(self.weights, name))
                     for name in (UNET_OFFSET_FILE, DECODER_FILE)}  # fmt: skip
            self._model = {"base_model": _base_model_identity(self.base_model), "layerdiffuse": files,
                           "steps": self.steps, "guidance": self.guidance, "height": self.height,
                           "width": self.width, "dtype": self.dtype,
                           "device_type": str(self.device).split(":")[0]}  # fmt: skip
            if self.pipeline_kwargs.get("scheduler"):
                self._model["scheduler"] = self.pipeline_kwargs["scheduler"]
        return self._model

    def produce(self, ids):
        from ..generate.dataset import image_seed
        from ..generate.pipeline import DEMO_NEGATIVE_PROMPT

        ids = list(ids)
        if not ids:
            return
        pipe = self._pipe or self._load()
        model = self.model()
        for start in range(0, len(ids), self.batch_size):
            batch = [self.records[i] for i in ids[start : start + self.batch_size]]
            seeds = [image_seed(self.seed, str(r["id"])) for r in batch]
            negatives = [self.negative_prompt or r.get("negative_prompt") or DEMO_NEGATIVE_PROMPT for r in batch]
            res = pipe([r["prompt"] for r in batch], negatives, seeds, height=self.height, width=self.width,
                       num_inference_steps=self.steps, guidance_scale=self.guidance, refine=True,
                       refine_kwargs=self.refine_kwargs)  # fmt: skip
            for k, rec in enumerate(batch):
                meta = {"prompt": rec["prompt"], "negative_prompt": negatives[k],
                        "attributes": rec.get("attributes", {}), "seed": seeds[k], "model": model}  # fmt: skip
                yield Produced(str(rec["id"]), res.raw[k], meta, res.refined[k], res.reports[k])

    def describe(self) -> dict:
        return {"source": self.name, "records": len(self.records), "seed": self.seed,
                **{k: v for k, v in self.model().items() if k != "base_model"},
                "base_model": self._base_name()}  # fmt: skip

    def _base_name(self) -> str:
        return _base_model_identity(self.base_model)["name"]
