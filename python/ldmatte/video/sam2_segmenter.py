"""SAM 2's video predictor as a :class:`~ldmatte.video.segmentation.Segmenter`, with the frames streamed.

SAM 2 (Segment Anything 2) tracks an object through a video with a memory of
its past frames: the prompted first frame stays in memory for the whole video
(an anchor that never erodes) beside the last few frames. It is prompted here
with the first frame's mask (``add_new_mask``). The ``sam2`` package's own
``init_state`` decodes and keeps every frame of the video before the first
mask is made (about 12 MB a frame at its 1024-pixel input): this module builds
the predictor's inference state itself, so that each frame is preprocessed when
the video reader hands it over and only the newest ones are kept
(:class:`StreamedFrames`), and it drops each frame's outputs once they fall
behind the model's memory window. Memory stays bounded on clips of any length.

Needs the ``sam2`` package (``pip install "ldmatte[sam2]"``: a wheel of SAM 2's code without the torchvision
requirement, which the video predictor does not use), torch, and a local checkpoint; nothing is downloaded.
SAM 2's checkpoints are published as ``.pt`` files (the sam2 package loads no safetensors): they are read with
``torch.load(weights_only=True)``, which runs no code from the file; a ``.safetensors`` file with the same
state dict is read too.
"""
from __future__ import annotations

import os
import re
import sys

import cv2
import numpy as np

from .masks import SegmenterUnavailable, to_mask

__all__ = ["SAM2Segmenter", "StreamedFrames", "build_sam2_predictor", "default_config", "fill_small_holes",
           "model_config"]

DEFAULT_CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"

# What sam2's build_sam2_video_predictor sets on top of a model config (its post-processing), but for hole
# filling: that needs sam2's optional CUDA extension, so :func:`fill_small_holes` does it here on any device.
VIDEO_OVERRIDES = (
    "model._target_=sam2.sam2_video_predictor.SAM2VideoPredictor",
    "model.sam_mask_decoder_extra_args.dynamic_multimask_via_stability=true",
    "model.sam_mask_decoder_extra_args.dynamic_multimask_stability_delta=0.05",
    "model.sam_mask_decoder_extra_args.dynamic_multimask_stability_thresh=0.98",
    "model.binarize_mask_from_pts_for_mem_enc=true",
    "model.fill_hole_area=0",
)
HOLE_AREA = 8  # build_sam2_video_predictor's fill_hole_area (pixels of the low-resolution mask)

_SIZES = {"tiny": "t", "small": "s", "base_plus": "b+", "large": "l"}
_NO_SAM2 = ("the SAM 2 segmenter needs the sam2 package ({}); install it with pip install \"ldmatte[sam2]\", or "
            "use --mask (a first-frame mask carried by optical flow) or --masks DIR")  # fmt: skip


def _import_sam2():
    """torch and the sam2 package, or :class:`SegmenterUnavailable` saying how to get them (sam2 first)."""
    try:
        import sam2  # noqa: F401  (initialises hydra's search path for sam2's configs)
        import torch
        from hydra.utils import instantiate  # noqa: F401
    except ImportError as exc:
        raise SegmenterUnavailable(_NO_SAM2.format(f"{exc.name} is not installed")) from None
    return torch


def default_config(checkpoint) -> str:
    """The sam2 config of a checkpoint by its published file name, else the SAM 2.1 tiny config.

    Examples
    --------
    >>> default_config("models/sam2.1_hiera_large.pt")
    'configs/sam2.1/sam2.1_hiera_l.yaml'
    >>> default_config("sam2_hiera_base_plus.pt")
    'configs/sam2/sam2_hiera_b+.yaml'
    >>> default_config("mine.pt")
    'configs/sam2.1/sam2.1_hiera_t.yaml'
    """
    m = re.fullmatch(r"(sam2(?:\.1)?)_hiera_(tiny|small|base_plus|large)\.(?:pt|safetensors)",
                     os.path.basename(os.fspath(checkpoint or "")))  # fmt: skip
    if m is None:
        return DEFAULT_CONFIG
    return f"configs/{m[1]}/{m[1]}_hiera_{_SIZES[m[2]]}.yaml"


def model_config(config: str, overrides=()):
    """The OmegaConf config of a sam2 config name (``configs/sam2.1/...``) or a YAML file, with overrides."""
    from hydra import compose
    from omegaconf import OmegaConf

    if os.path.isfile(config):
        try:
            cfg = OmegaConf.load(config)
        except Exception as exc:
            raise ValueError(f"{config}: not a readable SAM 2 config ({exc})") from None
    else:
        try:
            cfg = compose(config_name=config)
        except Exception:
            raise ValueError(f"{config}: neither a config file nor a config the sam2 package carries (e.g. "
                             f"{DEFAULT_CONFIG})") from None  # fmt: skip
    if "model" not in cfg:
        raise ValueError(f"{config}: a SAM 2 config has a 'model' section")
    OmegaConf.set_struct(cfg, False)  # compose's configs refuse new keys
    # Hydra's "++key=value" (add or replace) is OmegaConf's dotlist "key=value".
    cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist([o.lstrip("+") for o in (*VIDEO_OVERRIDES, *overrides)]))
    OmegaConf.resolve(cfg)
    return cfg


def _read_weights(torch, checkpoint: str) -> dict:
    if checkpoint.endswith(".safetensors"):
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise SegmenterUnavailable(f"{checkpoint}: reading safetensors needs the safetensors package") from None
        try:
            return load_file(checkpoint)
        except Exception as exc:
            raise ValueError(f"{checkpoint}: not a readable safetensors file ({str(exc).splitlines()[0]})") from None
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"{checkpoint}: not a SAM 2 checkpoint ({str(exc).splitlines()[0]})") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]  # SAM 2's published layout
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{checkpoint}: not a SAM 2 checkpoint (no state dict of tensors under 'model')")
    return state


def build_sam2_predictor(checkpoint, config: str | None = None, device: str = "cpu", overrides=()):
    """SAM 2's video predictor from a local checkpoint and its model config, on ``device``, in eval mode.

    ``config``: a config the sam2 package carries (e.g. ``configs/sam2.1/sam2.1_hiera_t.yaml``) or a YAML
    file; ``None`` picks it from the checkpoint's published name (:func:`default_config`). ``overrides``:
    hydra-style ``key=value`` (or ``++key=value``) strings applied to it. ``checkpoint=None`` leaves the
    weights random (for tests). Raises :class:`SegmenterUnavailable` without sam2 and ``ValueError`` for a
    checkpoint that is unreadable or does not fit the config.
    """
    torch = _import_sam2()
    from hydra.utils import instantiate

    ckpt = os.fspath(checkpoint) if checkpoint is not None else None
    if ckpt is not None and not os.path.isfile(ckpt):
        raise ValueError(f"SAM 2 needs a local checkpoint file (.pt, as published, or .safetensors), got {ckpt!r}")
    config = os.fspath(config) if config is not None else default_config(ckpt)
    cfg = model_config(config, overrides)
    weights = _read_weights(torch, ckpt) if ckpt is not None else None
    try:
        model = instantiate(cfg.model, _recursive_=True)
    except Exception as exc:
        raise ValueError(f"{config}: cannot build the model ({str(exc).splitlines()[0]})") from None
    if weights is not None:
        try:
            missing, unexpected = model.load_state_dict(weights, strict=False)
        except RuntimeError as exc:  # shapes that differ
            raise ValueError(f"{ckpt}: does not fit {config} ({str(exc).splitlines()[-1].strip()}); pass the "
                             "config it was trained with") from None  # fmt: skip
        if missing or unexpected:
            raise ValueError(f"{ckpt}: does not fit {config} ({len(missing)} weights missing, e.g. "
                             f"{missing[:1]}; {len(unexpected)} unexpected, e.g. {unexpected[:1]}); pass the "
                             "config it was trained with")  # fmt: skip
    return model.to(device).eval()


def fill_small_holes(logits: np.ndarray, max_area: int = HOLE_AREA) -> np.ndarray:
    """Background pieces (logit <= 0, 8-connected) of at most ``max_area`` pixels become 0.1 (foreground).

    What SAM 2's video predictor does to each low-resolution mask with its CUDA
    extension (``fill_holes_in_mask_scores``), here with OpenCV.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.ones((5, 5), np.float32); m[2, 2] = -1; m[0, :] = -1
    >>> out = fill_small_holes(m, max_area=1)
    >>> round(float(out[2, 2]), 3), float(out[0, 0])
    (0.1, -1.0)
    """
    logits = np.asarray(logits, np.float32)
    if max_area <= 0:
        return logits
    n, labels, stats, _ = cv2.connectedComponentsWithStats((logits <= 0).astype(np.uint8), connectivity=8)
    small = np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] <= max_area) + 1
    if len(small) == 0:
        return logits
    return np.where(np.isin(labels, small), np.float32(0.1), logits)


class StreamedFrames:
    """The video frames of a SAM 2 inference state, preprocessed as they arrive; only the newest ``keep`` kept.

    Stands where ``init_state`` puts a tensor of every frame: ``frames[i]`` is
    frame ``i`` as SAM 2 feeds it to its image encoder (resized to
    ``image_size`` square with PIL's default filter, scaled to [0, 1],
    normalised with the ImageNet mean and deviation, exactly as sam2's
    loader does). :meth:`add` puts a frame in; older ones are dropped.

    Examples
    --------
    >>> import numpy as np, torch
    >>> frames = StreamedFrames(image_size=32, device="cpu", keep=2)
    >>> for i in range(5):
    ...     frames.add(i, np.full((20, 30, 3), 10 * i, np.uint8))
    >>> tuple(frames[4].shape), frames.held, sorted(frames.indices)
    ((3, 32, 32), 2, [3, 4])
    """

    MEAN = (0.485, 0.456, 0.406)
    STD = (0.229, 0.224, 0.225)

    def __init__(self, image_size: int, device="cpu", keep: int = 2, length: int | None = None):
        import torch

        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.image_size, self.device, self.keep = int(image_size), device, int(keep)
        self.length = int(length) if length else sys.maxsize  # the video's frame count, when known
        self._mean = torch.tensor(self.MEAN, dtype=torch.float32)[:, None, None]
        self._std = torch.tensor(self.STD, dtype=torch.float32)[:, None, None]
        self._frames: dict = {}

    @property
    def held(self) -> int:
        """How many frames are held now (never more than ``keep``)."""
        return len(self._frames)

    @property
    def indices(self):
        return self._frames.keys()

    def add(self, index: int, frame: np.ndarray) -> None:
        """Preprocess frame ``index`` (RGB uint8, (H, W, 3)) and keep it, dropping the oldest beyond ``keep``."""
        import torch
        from PIL import Image

        size = (self.image_size, self.image_size)
        img = np.array(Image.fromarray(np.ascontiguousarray(frame)).convert("RGB").resize(size)) / 255.0
        t = (torch.from_numpy(img).permute(2, 0, 1).float() - self._mean) / self._std
        self._frames[index] = t.to(self.device)
        while len(self._frames) > self.keep:
            del self._frames[min(self._frames)]

    def __getitem__(self, index: int):
        try:
            return self._frames[index]
        except KeyError:
            raise IndexError(f"frame {index} is not held (held: {sorted(self._frames)}); frames are streamed, "
                             "only the newest are kept") from None  # fmt: skip

    def __len__(self) -> int:
        return self.length


class SAM2Segmenter:
    """SAM 2's video predictor prompted with the first frame's mask, frames streamed, memory bounded.

    Parameters
    ----------
    first_mask : array
        The subject in the first frame segmented (any size: resized to the frame).
    checkpoint : path
        Local SAM 2 weights: a ``.pt`` file as published (``sam2.1_hiera_tiny.pt`` ...), or ``.safetensors``.
    config : str, optional
        Its model config: a name the sam2 package carries (``configs/sam2.1/sam2.1_hiera_t.yaml``) or a YAML
        file; by default picked from the checkpoint's published name (:func:`default_config`).
    device : {"auto", "cpu", "cuda"}
        ``"auto"``: the GPU when usable. On CUDA the model runs under bfloat16 autocast (as SAM 2's own
        examples do) where the GPU supports it.
    overrides : sequence of str
        Hydra-style ``key=value`` changes to the config (``model.image_size=512``...).
    frame_count : int, optional
        The video's length, when known: SAM 2 spaces its object pointers by it on clips shorter than its
        pointer window (16 frames); ``None`` treats the video as long.
    keep_frames : int
        Preprocessed frames held at once (the newest); 2 is enough.
    fill_holes : int
        Background pieces of at most this many pixels of SAM 2's low-resolution mask become foreground
        (8, as SAM 2's video predictor; 0 turns it off).
    predictor : optional
        An already built video predictor (``build_sam2_predictor``); ``checkpoint`` and ``config`` are then
        not read.

    Each call to :meth:`segment` gives a frame in order (the first gets ``first_mask``
    back); the mask is SAM 2's logits > 0, small holes filled (:func:`fill_small_holes`).
    Only the outputs of the last ``memory_window`` frames and the first frame stay
    in the inference state (``memory_frames``), and ``frames_held`` frames.
    """

    def __init__(self, first_mask, checkpoint=None, config: str | None = None, device: str = "auto", *,
                 overrides=(), frame_count: int | None = None, keep_frames: int = 2, fill_holes: int = HOLE_AREA,
                 predictor=None):  # fmt: skip
        torch = _import_sam2()
        first = to_mask(first_mask, name="first-frame mask")
        if not first.any():
            raise ValueError("the first-frame mask is empty: SAM 2 needs the subject in the first frame")
        if predictor is None:
            if checkpoint is None:
                raise ValueError("SAM 2 needs a local checkpoint file (.pt, as published, or .safetensors)")
            from .._backend import resolve_device

            predictor = build_sam2_predictor(checkpoint, config, resolve_device(device), overrides)
        self._torch = torch
        self.predictor = predictor
        self.device = next(predictor.parameters()).device
        self.autocast = self.device.type == "cuda" and torch.cuda.is_bf16_supported()
        self._first = first
        self.frame_count = frame_count
        self.keep_frames = keep_frames
        self.fill_holes = fill_holes
        p = predictor
        # The farthest non-prompted frame the next frame reads: its mask memories (num_maskmem - 1 of them,
        # every r-th frame) and its object pointers (max_obj_ptrs_in_encoder - 1 frames back).
        window = p.memory_temporal_stride_for_eval * max(1, p.num_maskmem - 1) + 1
        if p.use_obj_ptrs_in_encoder:
            window = max(window, p.max_obj_ptrs_in_encoder - 1)
        self.memory_window = window
        self.state: dict | None = None
        self._last = -1

    @property
    def frames_held(self) -> int:
        """Preprocessed frames in the inference state now."""
        return 0 if self.state is None else self.state["images"].held

    @property
    def memory_frames(self) -> int:
        """Frames whose outputs (mask memory, object pointer) the inference state holds now."""
        if self.state is None:
            return 0
        out = self.state["output_dict_per_obj"][0]
        return len(out["cond_frame_outputs"]) + len(out["non_cond_frame_outputs"])

    def _autocast(self):
        import contextlib

        if self.autocast:
            return self._torch.autocast("cuda", dtype=self._torch.bfloat16)
        return contextlib.nullcontext()

    def _start(self, frame: np.ndarray, index: int) -> np.ndarray:
        """The inference state ``init_state`` would make, but with streamed frames; the first mask as the prompt."""
        from collections import OrderedDict

        p = self.predictor
        h, w = frame.shape[:2]
        images = StreamedFrames(p.image_size, self.device, self.keep_frames, self.frame_count)
        images.add(index, frame)
        self.state = {
            "images": images, "num_frames": len(images), "offload_video_to_cpu": False,
            "offload_state_to_cpu": False, "video_height": h, "video_width": w, "device": self.device,
            "storage_device": self.device, "point_inputs_per_obj": {}, "mask_inputs_per_obj": {},
            "cached_features": {}, "constants": {}, "obj_id_to_idx": OrderedDict(), "obj_idx_to_id": OrderedDict(),
            "obj_ids": [], "output_dict_per_obj": {}, "temp_output_dict_per_obj": {}, "frames_tracked_per_obj": {},
        }  # fmt: skip
        mask = to_mask(self._first, (h, w))
        p.add_new_mask(self.state, frame_idx=index, obj_id=1, mask=mask > 0)
        p.propagate_in_video_preflight(self.state)  # encodes the prompted frame into memory
        return mask

    def _track(self, frame: np.ndarray, index: int) -> np.ndarray:
        """One step of ``propagate_in_video`` for frame ``index``, then outputs behind the window dropped."""
        p, state = self.predictor, self.state
        if frame.shape[:2] != (state["video_height"], state["video_width"]):
            raise ValueError(f"frame {index} is {frame.shape[1]}x{frame.shape[0]}, the video "
                             f"{state['video_width']}x{state['video_height']}")  # fmt: skip
        state["images"].add(index, frame)
        outputs = state["output_dict_per_obj"][0]
        current, logits = p._run_single_frame_inference(
            inference_state=state, output_dict=outputs, frame_idx=index, batch_size=1, is_init_cond_frame=False,
            point_inputs=None, mask_inputs=None, reverse=False, run_mem_encoder=True)  # fmt: skip
        outputs["non_cond_frame_outputs"][index] = current
        tracked = state["frames_tracked_per_obj"][0]
        tracked[index] = {"reverse": False}
        # Frames the next one no longer reads (the prompted first frame is a conditioning output: it stays).
        oldest = index + 1 - self.memory_window
        for old in [t for t in outputs["non_cond_frame_outputs"] if t < oldest]:
            del outputs["non_cond_frame_outputs"][old]
        for old in [t for t in tracked if t < oldest and t not in outputs["cond_frame_outputs"]]:
            del tracked[old]
        low = fill_small_holes(logits[0, 0].float().cpu().numpy(), self.fill_holes)
        h, w = state["video_height"], state["video_width"]
        full = cv2.resize(low, (w, h), interpolation=cv2.INTER_LINEAR) if low.shape != (h, w) else low
        return np.where(full > 0, 255, 0).astype(np.uint8)

    def segment(self, frame: np.ndarray, index: int) -> np.ndarray:
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frame {index} must be an (H, W, 3) uint8 RGB array, got {frame.shape} {frame.dtype}")
        if index <= self._last:
            raise ValueError(f"frames must come in order: frame {index} after frame {self._last}")
        with self._torch.inference_mode(), self._autocast():
            mask = self._start(frame, index) if self.state is None else self._track(frame, index)
        self._last = index
        return mask
