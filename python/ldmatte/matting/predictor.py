"""Inference with a trained ViTMatte: :func:`load_predictor` and :class:`Predictor`."""
from __future__ import annotations

import json
import os

import numpy as np

__all__ = ["Predictor", "load_predictor", "checkpoint_folder", "enforce_trimap", "trimap_only"]


def checkpoint_folder(path) -> str:
    """The checkpoint folder of a training run (``RUN/checkpoint``), or ``path`` itself if it is one."""
    from .model import is_checkpoint_dir

    path = os.fspath(path)
    if is_checkpoint_dir(path):
        return path
    inner = os.path.join(path, "checkpoint")
    if is_checkpoint_dir(inner):
        return inner
    if os.path.isfile(os.path.join(path, "run.json")):
        raise ValueError(f"{path}: a training run without a checkpoint yet (it saves one every --save-every steps)")
    raise ValueError(f"{path}: neither a training run folder nor a checkpoint folder (config.json + model.safetensors)")


def _check_inputs(images, trimaps) -> tuple[np.ndarray, np.ndarray]:
    images, trimaps = np.asarray(images), np.asarray(trimaps)
    if images.dtype != np.uint8 or trimaps.dtype != np.uint8:
        raise TypeError(f"images and trimaps must be uint8, got {images.dtype} and {trimaps.dtype}")
    if images.ndim == 3 and trimaps.ndim == 2:  # one image
        images, trimaps = images[None], trimaps[None]
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be (B, H, W, 3) RGB, got shape {images.shape}")
    if trimaps.shape != images.shape[:3]:
        raise ValueError(f"trimaps must be (B, H, W) matching the images {images.shape[:3]}, got {trimaps.shape}")
    if 0 in images.shape:
        raise ValueError(f"empty images: shape {images.shape}")
    return images, trimaps


def enforce_trimap(alpha: np.ndarray, trimaps: np.ndarray) -> np.ndarray:
    """Known regions of the trimap win: 0 where trimap == 0, 255 where trimap == 255 (any other value is unknown).

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte.matting.predictor import enforce_trimap
    >>> enforce_trimap(np.full((1, 3), 90, np.uint8), np.array([[0, 128, 255]], np.uint8)).tolist()
    [[0, 90, 255]]
    """
    out = alpha.copy()
    out[trimaps == 0] = 0
    out[trimaps == 255] = 255
    return out


def trimap_only(trimap) -> np.ndarray:
    """The trimap-only baseline: float alpha 1 in known foreground, 0 in known background, 0.5 elsewhere.

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte.matting.predictor import trimap_only
    >>> trimap_only(np.array([0, 128, 255], np.uint8)).tolist()
    [0.0, 0.5, 1.0]
    """
    t = np.asarray(trimap)
    return np.where(t == 255, 1.0, np.where(t == 0, 0.0, 0.5))


class Predictor:
    """A ViTMatte model ready for inference: ``predict(images, trimaps) -> alpha``.

    Parameters
    ----------
    model : VitMatteForImageMatting
    device : str
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    batch_size : int
        Images per forward pass.
    """

    def __init__(self, model, device: str = "cpu", batch_size: int = 4, name: str = ""):
        import torch

        self.device = device
        self.model = model.to(device).eval()
        self.batch_size = max(1, int(batch_size))
        self.name = name
        self._amp = device.startswith("cuda")
        self._torch = torch

    def predict(self, images, trimaps) -> np.ndarray:
        """Alpha mattes (B, H, W) uint8 of (B, H, W, 3) uint8 RGB images and (B, H, W) uint8 trimaps.

        Trimap values: 0 background, 255 foreground, anything else unknown
        (128). Any H, W: inputs are padded to the model's multiple of 32 and the
        output cropped back. The trimap's known regions are enforced.
        """
        from .data import to_model_input
        from .model import SIZE_MULTIPLE

        torch = self._torch
        images, trimaps = _check_inputs(images, trimaps)
        tri = np.where((trimaps == 0) | (trimaps == 255), trimaps, np.uint8(128)).astype(np.uint8)
        h, w = tri.shape[1:]
        out = np.empty(tri.shape, np.uint8)
        with torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                x = to_model_input(images[start : start + self.batch_size], tri[start : start + self.batch_size],
                                   self.device, SIZE_MULTIPLE)  # fmt: skip
                with torch.autocast("cuda", dtype=torch.float16, enabled=self._amp):
                    alphas = self.model(pixel_values=x).alphas
                a = alphas[:, 0, :h, :w].float().clamp(0, 1).mul(255).round().to(torch.uint8).cpu().numpy()
                out[start : start + len(a)] = a
        return enforce_trimap(out, tri)


def load_predictor(path, device: str = "auto", batch_size: int = 4) -> Predictor:
    """A :class:`Predictor` from a training run folder (``ldmatte train``) or a checkpoint folder.

    ``device``: ``"auto"`` (a GPU when torch sees one, else the CPU), ``"cpu"``, ``"cuda"``.
    """
    from .model import load_model, resolve_device

    folder = checkpoint_folder(path)
    model = load_model(folder)
    name = folder
    state = os.path.join(os.path.dirname(folder), "trainer_state.json")
    if os.path.isfile(state):
        with open(state, encoding="utf-8") as f:
            name = f"{folder} (step {json.load(f).get('step')})"
    return Predictor(model, resolve_device(device), batch_size, name)


def _read_rgb(path) -> np.ndarray:
    import cv2

    from ..fileio.readwrite import ImageReadError, imread

    try:  # the checked reader: a named pipe is refused from its stat, never opened (it would block)
        im = imread(path, cv2.IMREAD_COLOR)
    except ImageReadError as exc:
        raise ValueError(f"cannot read the image: {exc.reason}") from None
    return cv2.cvtColor(im, cv2.COLOR_BGR2RGB)


def prediction_jobs(images=None, trimaps=None, benchmark=None) -> tuple[list, list]:
    """(jobs, problems): jobs are (name, image path, trimap path or BenchmarkItem); problems (name, reason).

    Images and trimaps pair by name stem; a benchmark gives both (PPM-100's trimaps are made from its mattes).
    """
    from .benchmarks import _stems, benchmark_items

    if benchmark is not None:
        items, problems = benchmark_items(*benchmark)
        missing = [(it.name, "the benchmark has no image folder") for it in items if it.image is None]
        return [(it.name, it.image, it) for it in items if it.image is not None], problems + missing
    for label, folder in (("image", images), ("trimap", trimaps)):
        if folder is None or not os.path.isdir(folder):
            raise ValueError(f"no such {label} folder: {folder}")
    found, tris = _stems(images), _stems(trimaps)
    jobs = [(n, p, tris[n]) for n, p in found.items() if n in tris]
    problems = [(n, f"no trimap in {trimaps}") for n in found if n not in tris]
    return jobs, problems


def predict_files(predictor: Predictor, jobs, out, *, stop=None, progress: bool = True) -> tuple[list, list]:
    """Predict every job and write ``out/<name>.png`` atomically; returns (written names, [(name, reason)]).

    Consecutive images of the same size go through the model together (up to
    the predictor's batch size). ``stop``: a flag with ``is_set()``; once set,
    no new batch starts.
    """
    from tqdm import tqdm

    from ..fileio.readwrite import write_png_atomic
    from .benchmarks import BenchmarkItem, _u8, item_trimap, read_matte, read_trimap

    written, failures = [], []
    pending: list = []

    def flush():
        if not pending:
            return
        alphas = predictor.predict(np.stack([p[1] for p in pending]), np.stack([p[2] for p in pending]))
        for (name, _, _), alpha in zip(pending, alphas):
            write_png_atomic(os.path.join(out, f"{name}.png"), alpha, durable=False)
            written.append(name)
        pending.clear()

    bar = tqdm(total=len(jobs), unit="img", desc="predict", disable=not progress)
    try:
        for name, image_path, tri_src in jobs:
            if stop is not None and stop.is_set():
                break
            try:
                image = _read_rgb(image_path)
                if isinstance(tri_src, BenchmarkItem):
                    tri = item_trimap(tri_src, _u8(read_matte(tri_src.gt)))
                else:
                    tri = read_trimap(tri_src)
                if tri.shape != image.shape[:2]:
                    raise ValueError(f"trimap {tri.shape[1]}x{tri.shape[0]} and image {image.shape[1]}x"
                                     f"{image.shape[0]} differ in size")  # fmt: skip
            except ValueError as exc:
                failures.append((name, str(exc)))
                bar.update(1)
                continue
            if pending and (pending[0][1].shape != image.shape or len(pending) >= predictor.batch_size):
                n = len(pending)
                flush()
                bar.update(n)
            pending.append((name, image, tri))
        n = len(pending)
        flush()
        bar.update(n)
    finally:
        bar.close()
    return written, failures
