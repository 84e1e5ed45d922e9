"""A hazy background: found on the image frame, its floor estimated there and removed before CAAR.

Some generators give the whole background a haze (Flux-LayerDiffuse: every
background pixel at alpha 68..77, none at or below ``bg_tol``). CAAR then sees
one transition component that touches the core and no clear background, calls
it an interior error and raises it to 255: the matte becomes a white
rectangle. Here, per image:

1. **No clear background.** More than half of the frame pixels that are not
   opaque core lie above ``bg_tol``. Steps 2-4 need an opaque core somewhere
   in the image too: without one nothing is raised as an interior error and
   there is no subject to tell from the haze (a uniform translucent image
   stays as the plain rule leaves it).
2. **The floor.** A plane ``h(x, y)`` (a uniform floor is the flat case)
   fitted to those frame pixels by least squares, again and again without the
   pixels more than :data:`FLOOR_INLIER` levels *above* the fit (a subject
   only ever adds opacity to the haze, so its pixels lie above; pixels below
   the fit always count). The fit is trusted when at least
   :data:`MIN_FIT_SHARE` of the frame pixels lie within :data:`FLOOR_INLIER`
   levels of it (noise is no floor), at most :data:`MAX_MISFIT` lie far
   below it or are clear background far above it (a haze that is no plane,
   with clear background beside it) and its median level there is above
   ``bg_tol`` (else the background is clear within the tolerance and the
   frame is transition because a subject's soft parts cover it). An image
   without a trusted floor gets the plain rule and is reported.
3. **Its removal.** ``alpha' = round((alpha - h) * 255 / (255 - h))`` where
   ``alpha > h``, else 0, in integers (round half up), so numpy, torch and
   CuPy give the same bytes. The floor is a fixed-point plane
   (:data:`FRAC_BITS` fraction bits) evaluated in integers too.
4. **The frame counts as background** in CAAR for such an image (the image is
   refined with a one-pixel border of zeros, then cropped): a transition
   component that touches the frame is then never raised as an interior error.

``haze_floor="auto"`` does 2-4 only when 1 holds, so an image with a clear
background is refined exactly as without this step; a number removes that
uniform floor from every image (4 when 1 holds); ``"off"`` checks nothing.

The estimate reads only the frame (``2 (H + W)`` pixels per image; for device
arrays they are copied to the host, which waits for the stream); the removal
and the border are elementwise array operations in the input's library before
the unchanged refinement kernel.
"""
from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["HazeFloor", "FLOOR_INLIER", "MIN_FIT_SHARE", "FRAC_BITS", "frame_coordinates", "estimate_floor",
           "floors_of", "remove_floor", "refine_with_floors"]  # fmt: skip

FLOOR_INLIER = 12  # levels: a frame pixel up to this far above the fitted floor is background
MIN_FIT_SHARE = 0.5  # the fit is a floor when at least this share of the frame lies within FLOOR_INLIER of it
MAX_MISFIT = 0.05  # ... and at most this share lies far below it or is clear while far above it
FRAC_BITS = 16  # fraction bits of the fixed-point plane
_MAX_ITER = 30
_COEF_LIMIT = 1 << 40  # a fitted plane never comes near it; it keeps int64 arithmetic safe on any image size


@dataclasses.dataclass(frozen=True)
class HazeFloor:
    """What the haze step decided for one image.

    ``no_clear_background``: the frame is mostly transition. The floor is
    ``h(x, y) = clip((a + bx * x + by * y + 2**15) >> 16, 0, 254)`` (fixed
    point, x the column, y the row); all three 0: nothing removed. ``guard``:
    the frame counts as background in CAAR.
    """

    no_clear_background: bool = False
    a: int = 0
    bx: int = 0
    by: int = 0
    guard: bool = False

    @property
    def removes(self) -> bool:
        return (self.a, self.bx, self.by) != (0, 0, 0)

    @property
    def uniform(self) -> bool:
        return self.bx == 0 and self.by == 0

    @property
    def acts(self) -> bool:
        """Does the image leave the plain CAAR path?"""
        return self.removes or self.guard

    def floor_map(self, height: int, width: int) -> np.ndarray:
        """The floor as an (H, W) int64 numpy array."""
        return _floor_map(np, self, height, width, None)

    def levels(self, height: int, width: int) -> tuple[float, int]:
        """(mean, max) of the floor over the image, for the report."""
        if not self.removes:
            return 0.0, 0
        if self.uniform:
            h = int(np.clip((self.a + (1 << (FRAC_BITS - 1))) >> FRAC_BITS, 0, 254))
            return float(h), h
        m = self.floor_map(height, width)
        return round(float(m.mean()), 2), int(m.max())


def uniform_floor(level: int, no_clear_background: bool, guard: bool) -> HazeFloor:
    return HazeFloor(no_clear_background, int(level) << FRAC_BITS, 0, 0, guard)


def frame_coordinates(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) of the frame pixels, each pixel once: top row, bottom row, left and right columns."""
    cols = np.arange(width, dtype=np.int64)
    inner = np.arange(1, max(height - 1, 1), dtype=np.int64)
    ys = [np.zeros(width, np.int64)]
    xs = [cols]
    if height > 1:
        ys.append(np.full(width, height - 1, np.int64))
        xs.append(cols)
    if height > 2:
        ys.append(inner)
        xs.append(np.zeros(inner.size, np.int64))
        if width > 1:
            ys.append(inner)
            xs.append(np.full(inner.size, width - 1, np.int64))
    return np.concatenate(ys), np.concatenate(xs)


def _no_clear_background(values: np.ndarray, fg_tol: int, bg_tol: int) -> tuple[bool, np.ndarray]:
    """(more than half of the non-core frame pixels above ``bg_tol``, mask of the non-core frame pixels)."""
    non_core = values < 255 - fg_tol
    n = int(non_core.sum())
    above = int((values[non_core] > bg_tol).sum())
    return n > 0 and 2 * above > n, non_core


def _fit_plane(z: np.ndarray, ys: np.ndarray, xs: np.ndarray, height: int, width: int, bg_tol: int):
    """The floor plane through frame values ``z`` (float64).

    Returns ``(c0, cx, cy, share of z within FLOOR_INLIER of it, share it misfits, its median level there)``.
    Misfits are pixels more than FLOOR_INLIER below the plane, and clear ones (``<= bg_tol``) more than
    FLOOR_INLIER above it (a subject is never clear: the plane misses clear background there).

    The plane is ``c0 + cx * x + cy * y`` in pixel coordinates. Pixels more
    than FLOOR_INLIER above the fit are left out and the fit redone until the
    set stops changing.
    """
    mx, my = (width - 1) / 2.0, (height - 1) / 2.0
    sx, sy = max(mx, 1.0), max(my, 1.0)  # columns scaled to about [-1, 1]: a well-conditioned fit
    design = np.stack([np.ones_like(z), (xs - mx) / sx, (ys - my) / sy], axis=1)
    keep = np.ones(z.size, bool)
    coef = np.zeros(3)
    for _ in range(_MAX_ITER):
        coef = np.linalg.lstsq(design[keep], z[keep], rcond=None)[0]
        residual = z - design @ coef
        new = residual <= FLOOR_INLIER  # below the fit: always background (noise, a darker corner)
        if np.array_equal(new, keep):
            break
        keep = new
    fit = design @ coef
    residual = z - fit
    inliers = np.abs(residual) <= FLOOR_INLIER
    misfit = (residual < -FLOOR_INLIER) | ((residual > FLOOR_INLIER) & (z <= bg_tol))
    c1, c2 = coef[1] / sx, coef[2] / sy
    level = float(np.median(fit[inliers])) if inliers.any() else 0.0
    return float(coef[0] - c1 * mx - c2 * my), float(c1), float(c2), float(inliers.mean()), float(misfit.mean()), level


def _fixed(v: float) -> int:
    return int(np.clip(round(v * (1 << FRAC_BITS)), -_COEF_LIMIT, _COEF_LIMIT))


def estimate_floor(values, ys, xs, height: int, width: int, params, has_core: bool = True) -> HazeFloor:
    """The haze step of one image from its frame ``values`` (uint8, at ``ys``, ``xs``) and a RefineParams.

    ``has_core``: the image has an opaque core pixel (``alpha >= 255 - fg_tol``).
    Without one nothing can be raised as an interior error and there is no
    subject to tell from the haze: the image is then refined by the plain rule
    (a uniform translucent image stays as it is) and only reported.

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte import RefineParams
    >>> a = np.full((32, 32), 72, np.uint8); a[8:, 10:22] = 255            # a subject in a haze at 72
    >>> ys, xs = frame_coordinates(32, 32)
    >>> f = estimate_floor(a[ys, xs], ys, xs, 32, 32, RefineParams())
    >>> f.no_clear_background, f.levels(32, 32)
    (True, (72.0, 72))
    >>> estimate_floor(np.zeros(124, np.uint8), ys, xs, 32, 32, RefineParams()).acts  # a clear frame
    False
    """
    mode = params.haze_floor
    if mode == "off":
        return HazeFloor()
    values = np.asarray(values)
    no_clear, non_core = _no_clear_background(values, params.fg_tol, params.bg_tol)
    guard = no_clear and has_core
    if mode != "auto":
        return uniform_floor(mode, no_clear, guard) if mode or no_clear else HazeFloor()
    if not guard:
        return HazeFloor(no_clear)
    z = values[non_core].astype(np.float64)
    c0, cx, cy, share, misfit, level = _fit_plane(z, ys[non_core].astype(np.float64),
                                                  xs[non_core].astype(np.float64), height, width, params.bg_tol)
    if share < MIN_FIT_SHARE or misfit > MAX_MISFIT or level <= params.bg_tol:
        # No floor to trust (noise; a haze that is no plane, with clear background beside it), or one within the
        # clear tolerance (the frame is transition because a subject's soft parts cover it): the plain rule.
        return HazeFloor(True)
    if abs(cx) * (width - 1) + abs(cy) * (height - 1) < 1.0:  # varies by less than a level: a uniform floor
        level = int(np.clip(np.floor(c0 + cx * (width - 1) / 2 + cy * (height - 1) / 2 + 0.5), 0, 254))
        return uniform_floor(level, True, True)
    return HazeFloor(True, _fixed(c0), _fixed(cx), _fixed(cy), True)


# ------------------------------------------------------------------ array-library plumbing


def _lib(kind: str):
    if kind == "torch":
        import torch

        return torch
    return np if kind == "numpy" else __import__("cupy")


def _arange(xp, n: int, like):
    if xp is np:
        return np.arange(n, dtype=np.int64)
    if xp.__name__ == "torch":
        return xp.arange(n, dtype=xp.int64, device=like.device)
    return xp.arange(n, dtype=np.int64)


def _astype(xp, x, name: str):
    if xp.__name__ == "torch":
        return x.to(getattr(xp, name))
    return x.astype(name)


def _floor_map(xp, floor: HazeFloor, height: int, width: int, like):
    """(H, W) int64 floor in ``xp`` (on ``like``'s device)."""
    xs = _arange(xp, width, like)[None, :]
    ys = _arange(xp, height, like)[:, None]
    plane = (xs * floor.bx + ys * floor.by + (floor.a + (1 << (FRAC_BITS - 1)))) >> FRAC_BITS
    return xp.clip(plane, 0, 254) if xp.__name__ != "torch" else xp.clamp(plane, 0, 254)


_TABLE = []  # [(255, 256) uint8]: the removal of every floor h from every value a, made once


def removal_table() -> np.ndarray:
    """``table[h, a]``: ``a`` with a floor ``h`` removed (0..254 x 0..255), in integers, round half up."""
    if not _TABLE:
        h = np.arange(255, dtype=np.int64)[:, None]
        a = np.arange(256, dtype=np.int64)[None, :]
        span = 255 - h
        _TABLE.append(np.where(a > h, (510 * np.maximum(a - h, 0) + span) // (2 * span), 0).astype(np.uint8))
    return _TABLE[0]


def _table_in(xp, like):
    table = removal_table()
    if xp is np:
        return table
    if xp.__name__ == "torch":
        return xp.from_numpy(table).to(like.device)
    return xp.asarray(table)


def remove_floor(plane, floor: HazeFloor, kind: str):
    """``plane`` (an (H, W) uint8 array of library ``kind``) with ``floor`` removed, same library and device.

    ``round((a - h) * 255 / (255 - h))`` where ``a > h``, else 0; integers only
    (round half up: ``(510 (a - h) + 255 - h) // (2 (255 - h))``), looked up in
    :func:`removal_table` (one gather per pixel, the same bytes in every library).

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([[0, 60, 61, 100, 254, 255]], np.uint8)
    >>> remove_floor(a, uniform_floor(60, True, True), "numpy").tolist()
    [[0, 0, 1, 52, 254, 255]]
    """
    xp = _lib(kind)
    torch = xp.__name__ == "torch"
    table = _table_in(xp, plane)
    index = plane.long() if torch else plane if xp is np else plane.astype(np.int64)  # CuPy: an int index
    if floor.uniform:
        h = int(np.clip((floor.a + (1 << (FRAC_BITS - 1))) >> FRAC_BITS, 0, 254))
        return table[h][index]
    height, width = (int(s) for s in plane.shape)
    flat = table.reshape(-1)
    return flat[_floor_map(xp, floor, height, width, plane) * 256 + (index if torch else _astype(xp, plane, "int64"))]


def frame_values(alpha_stack, kind: str):
    """Host (B, P) uint8 of the frame pixels of a (B, H, W) alpha stack (a view is fine), and the coordinates."""
    height, width = int(alpha_stack.shape[1]), int(alpha_stack.shape[2])
    ys, xs = frame_coordinates(height, width)
    if kind == "numpy":
        return np.asarray(alpha_stack[:, ys, xs]), ys, xs
    xp = _lib(kind)
    if kind == "torch":
        vals = alpha_stack[:, xp.from_numpy(ys).to(alpha_stack.device), xp.from_numpy(xs).to(alpha_stack.device)]
        return vals.cpu().numpy(), ys, xs  # the one host copy of the haze step (2 (H + W) bytes per image)
    return alpha_stack[:, xp.asarray(ys), xp.asarray(xs)].get(), ys, xs


def floors_of(alpha_stack, kind: str, params) -> list[HazeFloor]:
    """The haze step of every image of a (B, H, W) alpha stack (any library); none read for ``"off"``."""
    batch, height, width = (int(s) for s in alpha_stack.shape[:3])
    if params.haze_floor == "off" or batch == 0 or height == 0 or width == 0:
        return [HazeFloor()] * batch
    values, ys, xs = frame_values(alpha_stack, kind)
    hi = 255 - params.fg_tol
    floors = []
    for b in range(batch):
        no_clear, _ = _no_clear_background(values[b], params.fg_tol, params.bg_tol)
        # Only an image without a clear background is searched for a core (on a device: one more small copy).
        has_core = no_clear and bool((alpha_stack[b] >= hi).any())
        floors.append(estimate_floor(values[b], ys, xs, height, width, params, has_core))
    return floors


def _take(xp, x, idx, like):
    return x[_index(xp, idx, like)]


def _zeros(xp, shape, like):
    if xp.__name__ == "torch":
        return xp.zeros(shape, dtype=like.dtype, device=like.device)
    return xp.zeros(shape, dtype=like.dtype)


def _contiguous(xp, x):
    return x.contiguous() if xp.__name__ == "torch" else xp.ascontiguousarray(x)


def refine_with_floors(stack, kind: str, floors, kernel):
    """CAAR of a (B, H, W) uint8 stack of library ``kind`` with each image's haze step.

    ``kernel(stack) -> (out, stats)`` is the plain refinement in the same
    library (Numba on the host, the CUDA op on the device, or its emulation).
    Images that the step leaves alone go through it unchanged; the others get
    their floor removed, and those with ``guard`` are refined inside a border
    of zeros (the frame counts as background), then cropped. Statistics are
    those of the image the kernel saw (the border adds none: it is clear
    background at 0, never transition, support or a restored pixel).
    """
    if not any(f.acts for f in floors):
        return kernel(stack)
    xp = _lib(kind)
    alpha = stack.clone() if kind == "torch" else stack.copy()
    for b, f in enumerate(floors):
        if f.removes:
            alpha[b] = remove_floor(stack[b], f, kind)
    plain = [b for b, f in enumerate(floors) if not f.guard]
    guarded = [b for b, f in enumerate(floors) if f.guard]
    parts = []
    if plain:
        sub = alpha if not guarded else _contiguous(xp, _take(xp, alpha, plain, stack))
        parts.append((plain, *kernel(sub)))
    if guarded:
        height, width = int(stack.shape[1]), int(stack.shape[2])
        bordered = _zeros(xp, (len(guarded), height + 2, width + 2), stack)
        bordered[:, 1:-1, 1:-1] = alpha if not plain else _take(xp, alpha, guarded, stack)
        out, stats = kernel(bordered)
        parts.append((guarded, _contiguous(xp, out[:, 1:-1, 1:-1]), stats))
    if len(parts) == 1:
        return parts[0][1], parts[0][2]
    (_, o0, s0), _ = parts
    out = _zeros(xp, tuple(stack.shape), o0)
    stats = _zeros(xp, (int(stack.shape[0]),) + tuple(s0.shape[1:]), s0)
    for idx, o, s in parts:
        sel = _index(xp, idx, o)
        out[sel] = o
        stats[sel] = s
    return out, stats


def _index(xp, idx, like):
    if xp is np:
        return np.asarray(idx, np.int64)
    if xp.__name__ == "torch":
        return xp.as_tensor(idx, device=like.device)
    return xp.asarray(idx)
