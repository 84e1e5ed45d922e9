"""Image panels for looking at mattes: composites, alpha, inverse alpha, changed pixels.

Every function takes and returns uint8 numpy arrays; colour images are RGB
(H, W, 3). :func:`before_after_panel` builds the labelled two-row figure used by
the benchmarks and the CLI contact sheet: rows are the input and the refined
image, columns the composite on a checkerboard, the alpha, the inverse alpha
(255 - alpha, where interior errors show up as grey specks) and a map of the
pixels that are not 0 or 255 (input row) or that changed (refined row).
"""
from __future__ import annotations

import cv2
import numpy as np

__all__ = [
    "checkerboard",
    "composite",
    "alpha_rgb",
    "inverse_alpha_rgb",
    "transition_map",
    "change_map",
    "fit_width",
    "caption",
    "before_after_panel",
    "RAISED",
    "LOWERED",
]

RAISED = (230, 159, 0)  # orange (Okabe-Ito palette: safe for colour-blind readers)
LOWERED = (86, 180, 233)  # sky blue
BOTH = (255, 255, 255)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _check_alpha(alpha, name="alpha") -> np.ndarray:
    a = np.asarray(alpha)
    if a.dtype != np.uint8 or a.ndim != 2:
        raise TypeError(f"{name}: expected an (H, W) uint8 array, got {a.dtype} with shape {a.shape}")
    return a


def _check_rgba(rgba, name="rgba") -> np.ndarray:
    x = np.asarray(rgba)
    if x.dtype != np.uint8 or x.ndim != 3 or x.shape[2] != 4:
        raise TypeError(f"{name}: expected an (H, W, 4) uint8 RGBA array, got {x.dtype} with shape {x.shape}")
    return x


def checkerboard(height: int, width: int, cell: int = 16, colors=(255, 204)) -> np.ndarray:
    """An RGB checkerboard of grey squares ``cell`` pixels wide.

    Examples
    --------
    >>> from ldmatte.panels import checkerboard
    >>> checkerboard(4, 4, cell=2)[:, :, 0].tolist()
    [[255, 255, 204, 204], [255, 255, 204, 204], [204, 204, 255, 255], [204, 204, 255, 255]]
    """
    if cell < 1:
        raise ValueError(f"cell must be >= 1, got {cell}")
    yy, xx = np.mgrid[:height, :width]
    grey = np.where((yy // cell + xx // cell) % 2 == 0, colors[0], colors[1]).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def composite(rgba, cell: int = 16) -> np.ndarray:
    """``alpha * F + (1 - alpha) * B`` over a checkerboard B (straight colour F).

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte.panels import composite
    >>> im = np.zeros((2, 2, 4), np.uint8); im[0, 0] = (255, 0, 0, 255)
    >>> composite(im, cell=1)[0].tolist()
    [[255, 0, 0], [204, 204, 204]]
    """
    x = _check_rgba(rgba)
    a = x[..., 3:].astype(np.float32) / 255
    bg = checkerboard(x.shape[0], x.shape[1], cell).astype(np.float32)
    return np.clip(x[..., :3] * a + bg * (1 - a) + 0.5, 0, 255).astype(np.uint8)


def alpha_rgb(alpha) -> np.ndarray:
    """The alpha as a grey RGB image."""
    a = _check_alpha(alpha)
    return np.repeat(a[..., None], 3, axis=2)


def inverse_alpha_rgb(alpha, gain: float = 1.0) -> np.ndarray:
    """255 - alpha as a grey RGB image (the view of the paper's figures), optionally multiplied by ``gain``.

    A gain above 1 makes the near-opaque interior errors (255 - alpha of 1..10) visible.

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte.panels import inverse_alpha_rgb
    >>> inverse_alpha_rgb(np.array([[255, 250, 0]], np.uint8), gain=8)[..., 0].tolist()
    [[0, 40, 255]]
    """
    inv = 255 - alpha_rgb(alpha)
    if gain == 1:
        return inv
    if not gain > 0:
        raise ValueError(f"gain must be positive, got {gain!r}")
    return np.clip(inv.astype(np.float32) * gain + 0.5, 0, 255).astype(np.uint8)


def _block_any(mask: np.ndarray, size) -> np.ndarray:
    """Downscale a bool mask so that a block with any set pixel stays set (single pixels stay visible)."""
    if size is None or (mask.shape[1], mask.shape[0]) == tuple(size):
        return mask
    return cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0


def transition_map(alpha, size=None) -> np.ndarray:
    """White where ``0 < alpha < 255`` on a black ground; ``size`` = (width, height) downscales with 'any'.

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte.panels import transition_map
    >>> transition_map(np.array([[0, 128, 255]], np.uint8))[..., 0].tolist()
    [[0, 255, 0]]
    """
    a = _check_alpha(alpha)
    soft = _block_any((a > 0) & (a < 255), size)
    return np.repeat(np.where(soft, 255, 0).astype(np.uint8)[..., None], 3, axis=2)


def change_map(before, after, size=None) -> np.ndarray:
    """Raised pixels in :data:`RAISED`, lowered in :data:`LOWERED` (both in a block: white), over a dim silhouette.

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte.panels import change_map, RAISED, LOWERED
    >>> b = np.array([[250, 20, 255]], np.uint8); a = np.array([[255, 0, 255]], np.uint8)
    >>> [tuple(p) for p in change_map(b, a)[0].tolist()] == [RAISED, LOWERED, (63, 63, 63)]
    True
    """
    b, a = _check_alpha(before, "before"), _check_alpha(after, "after")
    if a.shape != b.shape:
        raise ValueError(f"before and after differ in shape: {b.shape} vs {a.shape}")
    up, down = _block_any(a > b, size), _block_any(a < b, size)
    base = a if size is None else cv2.resize(a, size, interpolation=cv2.INTER_AREA)
    out = np.repeat((base // 4)[..., None], 3, axis=2)  # the refined silhouette, dimmed, for orientation
    out[up & ~down] = RAISED
    out[down & ~up] = LOWERED
    out[up & down] = BOTH
    return out


def fit_width(img, width: int) -> np.ndarray:
    """Downscale (area interpolation) to ``width`` pixels wide; never upscales."""
    img = np.asarray(img)
    if img.shape[1] <= width:
        return img
    height = max(1, round(img.shape[0] * width / img.shape[1]))
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)


def caption(img, text: str, height: int = 28, scale: float | None = None, below: bool = False) -> np.ndarray:
    """Put a dark strip with ``text`` above (or below) an RGB image."""
    img = np.asarray(img)
    scale = scale or height / 40
    strip = np.full((height, img.shape[1], 3), 32, np.uint8)
    cv2.putText(strip, text, (6, int(height * 0.7)), _FONT, scale, (235, 235, 235), 1, cv2.LINE_AA)
    return np.concatenate([img, strip] if below else [strip, img], axis=0)


def _side_label(img, text: str, width: int = 28) -> np.ndarray:
    """A dark strip on the left with ``text`` written bottom-to-top."""
    strip = np.full((width, img.shape[0], 3), 32, np.uint8)  # drawn lying down, then turned upright
    cv2.putText(strip, text, (8, int(width * 0.7)), _FONT, width / 40, (235, 235, 235), 1, cv2.LINE_AA)
    return np.concatenate([np.ascontiguousarray(np.rot90(strip, 1)), img], axis=1)


COLUMNS = ("composite on checkerboard", "alpha", "inverse alpha (255 - alpha)")


def before_after_panel(
    before, after, width: int = 1600, title: str | None = None, inverse_gain: float = 1.0
) -> np.ndarray:
    """A labelled 2 x 4 RGB panel of an RGBA image before and after refinement, ``width`` pixels wide.

    ``inverse_gain`` multiplies the inverse alpha column (see :func:`inverse_alpha_rgb`).

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte.panels import before_after_panel
    >>> im = np.zeros((64, 64, 4), np.uint8); im[16:48, 16:48] = (200, 80, 80, 250)
    >>> out = im.copy(); out[16:48, 16:48, 3] = 255
    >>> p = before_after_panel(im, out, width=400, title="example")
    >>> p.dtype, p.shape[1], p.shape[2]
    (dtype('uint8'), 400, 3)
    """
    b, a = _check_rgba(before, "before"), _check_rgba(after, "after")
    if a.shape != b.shape:
        raise ValueError(f"before and after differ in shape: {b.shape} vs {a.shape}")
    label_w, gap = 28, 4
    cell_w = max(16, (width - label_w - 3 * gap) // 4)
    cell_h = max(1, round(b.shape[0] * cell_w / b.shape[1]))
    size = (cell_w, cell_h)
    cell = lambda img: cv2.resize(img, size, interpolation=cv2.INTER_AREA)  # noqa: E731
    checker = max(4, b.shape[1] // 48)
    rows = []
    last_cells = (transition_map(b[..., 3], size), change_map(b[..., 3], a[..., 3], size))
    for name, x, last in (("input", b, last_cells[0]), ("refined", a, last_cells[1])):
        inv = inverse_alpha_rgb(x[..., 3], inverse_gain)
        cells = [cell(composite(x, checker)), cell(alpha_rgb(x[..., 3])), cell(inv), last]
        spacer = np.full((cell_h, gap, 3), 255, np.uint8)
        row = np.concatenate([c for pair in zip(cells, [spacer] * 3 + [None]) for c in pair if c is not None], axis=1)
        rows.append(_side_label(row, name, label_w))
    gain = f" x {inverse_gain:g}" if inverse_gain != 1 else ""
    heads = [*COLUMNS[:2], COLUMNS[2] + gain, "0 < alpha < 255 (input) / changed (refined)"]
    head = np.full((24, rows[0].shape[1], 3), 32, np.uint8)
    for i, text in enumerate(heads):
        x0 = label_w + i * (cell_w + gap) + 4
        cv2.putText(head, text, (x0, 16), _FONT, 0.4, (235, 235, 235), 1, cv2.LINE_AA)
    legend = "changed: orange = raised, blue = lowered, white = both (a block with any changed pixel is coloured)"
    panel = np.concatenate([head, rows[0], np.full((gap, rows[0].shape[1], 3), 255, np.uint8), rows[1]], axis=0)
    if panel.shape[1] < width:  # integer cell widths: pad to exactly `width`
        panel = np.pad(panel, ((0, 0), (0, width - panel.shape[1]), (0, 0)), constant_values=32)
    panel = caption(panel, legend, height=22, scale=0.42, below=True)
    if title:
        panel = caption(panel, title, height=30, scale=0.6)
    return panel
