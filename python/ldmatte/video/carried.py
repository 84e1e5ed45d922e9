"""A binary segmentation carried frame to frame: flow warps it, colour re-decides what the flow cannot.

The first frame's mask is carried through the video as a binary mask (never
the matte, so the band's erosion cannot compound). For each new frame:

1. the flow around the subject is recomputed on its box at the subject's own scale
   (a small subject's thin parts are lost in the frame's downscaled flow), both ways;
   the previous mask is warped two ways: along that dense flow (follows limbs that
   move on their own) and along the subject's affine motion fitted to it
   (follows thin parts the dense flow smooths away, a chair leg or a wheel);
2. a forward-backward check of the flow marks where the dense warp cannot be
   trusted (occlusion, disocclusion, motion blur);
   the first frame's mask is also brought straight onto the frame (a long-range
   flow between the two on the subject's box, checked both ways, skipped when the
   subject is far from where it started): where that flow is trusted near the
   subject and its mask agrees well enough with the carried one, its subject
   pixels join and the carried pixels it calls background are re-decided as
   probable background (a carried mask drifts a little every frame; the first
   frame does not, and a subject that turns back to its first pose gets its
   first shape back);
3. pixels where the two warps agree and the flow is reliable stay as warped; the rest
   near the subject (its edge, the disagreements, the unreliable pixels) are
   re-decided by a graph cut (OpenCV GrabCut, model frozen) against colour models
   of the subject and of its surroundings learnt from the first frame (a
   permanent anchor), a few recent confident frames and this frame's certain pixels;
4. warped pixels whose colour still favours the subject are kept even where the
   graph cut's smoothness would cut them (thin parts), new pieces must touch the warp, and
   an area jump against the previous mask falls back to the warp (recorded);
5. while the subject is lost (an empty mask), every few frames the first frame's
   mask is tried on the whole frame by the same long-range flow and taken back
   where that flow is trusted, the size fits and the colours are the subject's.

Given masks of later key frames (``key_masks``), each replaces the carried mask on
its frame and becomes an anchor: the colour models are built from the first frame's
and the newest key frame's samples (the recall and re-finding keep the first frame's).

Everything is a deterministic function of the frames (seeded per frame), so a
resumed run that replays the frames it already wrote carries the same state.
"""
from __future__ import annotations

import collections
import dataclasses
import functools

import cv2
import numpy as np

from .flow import PRESETS, FlowSettings, FlowTracker, Motion, subject_motion, warp_backward

__all__ = ["CarrySettings", "CarriedSegmenter", "fit_colour_model", "colour_log_ratio", "forward_backward_error"]

COMPONENTS = 5  # OpenCV GrabCut's Gaussian mixtures have five components (65 numbers a model)


@dataclasses.dataclass(frozen=True)
class CarrySettings:
    """How :class:`CarriedSegmenter` carries the mask.

    ``consistency``: the forward-backward flow error (pixels) above which the dense warp is not trusted, plus
    ``consistency_rel`` times the flow's length. ``edge``: the band each side of the warped edge that colour
    re-decides (share of the frame's shorter side, at least 1 px). ``reach``: how far from the warped mask
    unreliable pixels may join it (share of the shorter side). ``colour``: use the colour models (False: the
    warps alone). ``recent``: confident frames whose colours join the anchor's. ``jump``: the largest
    area ratio between consecutive masks before the collapse guard falls back to the warp; it holds the warp for
    at most ``hold`` frames in a row, and not at all once the mask is under ``hold_share`` of the first mask's
    area (a subject that left the frame or went behind something: held longer, the warp's ghost would stay on
    the background for ever). ``max_pixels``: the
    graph cut runs on the subject's box downscaled to at most this many pixels, and the colour doubt of a larger
    interior is judged at that scale too (speed at high resolution).
    ``flow_side``: the flow around the subject is recomputed on its box scaled to this longer side (at most 2x
    up: a small subject's thin parts resolved), with the DIS ``preset`` (``fast`` halves the time; on ``chair``
    the carried mask's IoU fell from 0.900 to 0.876). ``coarse_check``: the forward flow that only checks that
    one (forward-backward) stops one pyramid level coarser and skips DIS's variational refinement (a quarter of
    its time; on ``chair`` the pipeline's IoU 0.874, min 0.740 -> 0.747; the flow that moves the mask keeps
    ``preset``). ``recall``: the share of agreement (IoU where the long-range
    flow from the first frame is trusted) the first frame's mask needs with the carried one before it corrects it
    (None: never; see the module's description); that flow runs on the box scaled to ``recall_side`` (on
    ``chair`` 320 gave the carried mask 0.900, 512 0.889, 256 0.894). ``refind``: while the
    subject is lost, every this many frames the first frame's mask is tried on the whole frame the same way and
    taken back when the flow trusts most of it and its colours clearly favour the subject (None: never).
    ``join``: the log-likelihood ratio (subject over background colour) a pixel the warps did not carry needs
    to join the mask; with ``strict_join`` only next to the warped mask or where the flow failed (so the mask
    cannot creep along a background edge of the subject's colour). ``doubt``: carried pixels whose ratio is
    below it are re-decided too (a hole opening inside the subject; None: never).
    """

    consistency: float = 1.0
    consistency_rel: float = 0.1
    edge: float = 0.004
    reach: float = 0.03
    colour: bool = True
    recent: int = 3
    jump: float = 1.5
    hold: int = 8
    hold_share: float = 0.1
    samples: int = 2000
    max_pixels: int = 60_000
    flow_side: int = 512
    preset: str = "medium"
    coarse_check: bool = True
    join: float = 0.0
    doubt: float | None = -2.0
    strict_join: bool = True
    recall: float | None = 0.5
    recall_side: int = 320
    refind: int | None = 3
    flow: FlowSettings = dataclasses.field(default_factory=FlowSettings)

    def __post_init__(self):
        if self.consistency <= 0 or self.consistency_rel < 0:
            raise ValueError("consistency must be > 0 and consistency_rel >= 0")
        if not 0 <= self.edge < 0.5 or not 0 <= self.reach < 0.5:
            raise ValueError("edge and reach are shares of the frame's shorter side, in [0, 0.5)")
        if self.jump <= 1:
            raise ValueError(f"jump must be > 1, got {self.jump!r}")
        bad_hold = isinstance(self.hold, bool) or not isinstance(self.hold, int) or self.hold < 0
        if bad_hold or not 0 <= self.hold_share < 1:
            raise ValueError(f"hold must be an int >= 0 and hold_share in [0, 1), got {self.hold!r}, "
                             f"{self.hold_share!r}")
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {self.preset!r}")
        if self.recall_side < 16 or self.flow_side < 16:
            raise ValueError("flow_side and recall_side must be >= 16")
        if self.refind is not None and (isinstance(self.refind, bool) or self.refind < 1):
            raise ValueError(f"refind must be None or an int >= 1, got {self.refind!r}")
        if self.recall is not None and not 0 < self.recall <= 1:
            raise ValueError(f"recall must be None or in (0, 1], got {self.recall!r}")
        if self.recent < 0 or self.samples < 50 or self.max_pixels < 1000:
            raise ValueError("recent must be >= 0, samples >= 50, max_pixels >= 1000")


def fit_colour_model(samples: np.ndarray, seed: int = 0) -> np.ndarray | None:
    """A Gaussian mixture of RGB samples (N, 3) in OpenCV GrabCut's layout (1, 65) float64; None if N < 10.

    Five components (k-means, seeded), each covariance regularised by one grey level squared.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> m = fit_colour_model(rng.normal(100, 5, (500, 3)))
    >>> m.shape, round(float(m[0, :5].sum()), 6)
    ((1, 65), 1.0)
    """
    x = np.asarray(samples, np.float32).reshape(-1, 3)
    if len(x) < 10:
        return None
    k = min(COMPONENTS, len(x) // 5)
    cv2.setRNGSeed(int(seed))
    _, labels, _ = cv2.kmeans(x, k, None, (cv2.TERM_CRITERIA_MAX_ITER + cv2.TERM_CRITERIA_EPS, 10, 0.5), 1,
                              cv2.KMEANS_PP_CENTERS)  # fmt: skip
    labels = labels.ravel()
    model = np.zeros(13 * COMPONENTS, np.float64)
    coefs, means, covs = model[:COMPONENTS], model[COMPONENTS:4 * COMPONENTS], model[4 * COMPONENTS:]
    xd = x.astype(np.float64)
    for c in range(k):
        pts = xd[labels == c]
        if len(pts) < 2:
            continue
        coefs[c] = len(pts) / len(xd)
        means[3 * c:3 * c + 3] = pts.mean(0)
        covs[9 * c:9 * c + 9] = (np.cov(pts.T, bias=True) + np.eye(3)).ravel()
    coefs /= coefs.sum()
    return model[None]


def _quadratic_weights(model: np.ndarray) -> np.ndarray:
    """The mixture's components' log densities as weights (K, 10) float64 on the quadratic features
    [r², g², b², rg, rb, gb, r, g, b, 1] of colours centred on 128 (smaller terms, less cancellation), the
    components that exist only: a pixel then costs K short dot products."""
    m = model.ravel()
    rows = []
    for c in range(COMPONENTS):
        w = m[c]
        if w <= 0:
            continue
        mu = m[COMPONENTS + 3 * c:COMPONENTS + 3 * c + 3] - 128.0
        cov = m[4 * COMPONENTS + 9 * c:4 * COMPONENTS + 9 * c + 9].reshape(3, 3)
        a = np.linalg.inv(cov)
        # -0.5 (x - mu)^T A (x - mu) = -0.5 x^T A x + mu^T A x - 0.5 mu^T A mu
        quad = -0.5 * np.array([a[0, 0], a[1, 1], a[2, 2], 2 * a[0, 1], 2 * a[0, 2], 2 * a[1, 2]])
        const = np.log(w) - 0.5 * (np.log(np.linalg.det(cov)) + 3 * np.log(2 * np.pi)) - 0.5 * mu @ a @ mu
        rows.append(np.concatenate([quad, a @ mu, [const]]))
    return np.array(rows, np.float64)


_EVERY = np.ones((1, 1), bool)  # a placeholder ``where`` when the kernel reads every pixel


def _log_ratio_into(out: np.ndarray, fg_model: np.ndarray, bg_model: np.ndarray, image: np.ndarray,
                    where: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """:func:`colour_log_ratio` of ``image`` (H, W, 3) written into ``out`` (H, W) float32 where ``where``
    (bool (H, W); None: everywhere), read in place (no gathered copy of the pixels)."""
    from .._kernels.colour_mixture import log_ratio_image

    if image.dtype not in (np.uint8, np.float32, np.float64):
        image = image.astype(np.float64)
    log_ratio_image(np.ascontiguousarray(image), _EVERY if where is None else np.ascontiguousarray(where),
                    where is None, _quadratic_weights(fg_model), _quadratic_weights(bg_model), out)  # fmt: skip
    return out


def colour_log_ratio(fg_model: np.ndarray, bg_model: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """log p(colour | subject) - log p(colour | background) for RGB pixels (N, 3), float32.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> fg, bg = fit_colour_model(rng.normal(200, 5, (300, 3))), fit_colour_model(rng.normal(50, 5, (300, 3)))
    >>> (colour_log_ratio(fg, bg, np.array([[190.0, 200, 210], [60, 50, 40]])) > 0).tolist()
    [True, False]
    """
    x = np.asarray(pixels).reshape(-1, 1, 3)
    return _log_ratio_into(np.zeros(x.shape[:2], np.float32), fg_model, bg_model, x).ravel()


def forward_backward_error(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """|B(x) + F(x + B(x))|: how far a pixel lands from where it started after going back and forth.

    ``backward`` (H, W, 2): flow from the current frame to the previous one; ``forward``: from the previous
    frame to the current one. Large where the flow is wrong or the pixel was hidden in one of the frames.

    Examples
    --------
    >>> import numpy as np
    >>> b = np.zeros((4, 4, 2), np.float32); b[..., 0] = -1
    >>> f = -b
    >>> float(forward_backward_error(b, f).max())
    0.0
    """
    back_and_forth = backward + warp_backward(np.ascontiguousarray(forward), backward)
    return cv2.magnitude(back_and_forth[..., 0], back_and_forth[..., 1])


def _box(mask: np.ndarray, margin: int) -> tuple[int, int, int, int] | None:
    x, y, bw, bh = cv2.boundingRect(np.ascontiguousarray(mask).view(np.uint8))
    if bw == 0:
        return None
    h, w = mask.shape
    return max(0, y - margin), min(h, y + bh + margin), max(0, x - margin), min(w, x + bw + margin)


def _disc(r: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def _morph(op, mask: np.ndarray, r: int) -> np.ndarray:
    """``op`` (cv2.dilate or cv2.erode) of a bool mask by a disc of radius ``r``, computed on the mask's box grown
    by r + 1 only (the same result as on the whole frame; a subject is often a small part of it)."""
    box = _box(mask, r + 1)
    out = np.zeros(mask.shape, bool)
    if box is None:
        return out
    y0, y1, x0, x1 = box
    out[y0:y1, x0:x1] = op(np.ascontiguousarray(mask[y0:y1, x0:x1]).view(np.uint8), _disc(r)) > 0
    return out


def _pick(pixels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if len(pixels) <= n:
        return pixels
    return pixels[rng.choice(len(pixels), n, replace=False)]


class CarriedSegmenter:
    """A first-frame mask carried through a video as a binary segmentation (see the module's description).

    A :class:`~ldmatte.video.segmentation.Segmenter`: call :meth:`segment` with the frames in order. Pass a
    shared ``tracker`` that its owner steps; without one the segmenter keeps its own. After each frame
    :attr:`motion` is the subject's motion onto it, :attr:`note` None or ``(kind, reason)`` with kind
    ``"lost"`` (the subject is gone: empty mask) or ``"guessed"`` (the collapse guard or no colour model),
    and :attr:`uncertain` the pixels the colour models re-decided (bool, or None). ``key_masks``: masks of
    later key frames (a mapping frame index -> mask, e.g. :meth:`ldmatte.video.masks.FolderMasks.key_masks`):
    at each, its mask is the frame's segmentation and re-anchors the carry (see :meth:`_reanchor`).

    Examples
    --------
    >>> import numpy as np
    >>> yy, xx = np.mgrid[:64, :64]
    >>> def frame(cx):  # a red textured disc moving right over a grey textured background
    ...     f = np.full((64, 64, 3), 90, np.uint8); f[..., 1] += (20 * np.sin(yy / 2.0)).astype(np.uint8)
    ...     disc = (xx - cx) ** 2 + (yy - 32) ** 2 < 100
    ...     f[disc] = np.stack([200 + 40 * np.sin(xx[disc] - cx), 40 + 0 * xx[disc], 60 + 0 * xx[disc]], -1)
    ...     return f, disc
    >>> seg = CarriedSegmenter(frame(20)[1])
    >>> for i, cx in enumerate([20, 22, 24, 26, 28]):
    ...     f, d = frame(cx); m = seg.segment(f, i) > 127
    >>> round(float((m & d).sum() / (m | d).sum()), 1), seg.note
    (1.0, None)
    """

    def __init__(self, first_mask, settings: CarrySettings | None = None, tracker: FlowTracker | None = None,
                 key_masks=None, reseed=None):
        from .masks import to_mask

        self.settings = settings or CarrySettings()
        self._first = to_mask(first_mask, name="first-frame mask")
        self._own_tracker = tracker is None
        self.tracker = tracker or FlowTracker(self.settings.flow)
        self._dis = cv2.DISOpticalFlow_create(PRESETS[self.settings.preset])
        self._check_dis = self._dis
        if self.settings.coarse_check:  # the forward flow of the subject's consistency check only
            self._check_dis = cv2.DISOpticalFlow_create(PRESETS[self.settings.preset])
            self._check_dis.setFinestScale(self._dis.getFinestScale() + 1)
            self._check_dis.setVariationalRefinementIterations(0)
        self._mask: np.ndarray | None = None  # the carried segmentation (bool)
        self._grey: np.ndarray | None = None
        self._anchor: tuple[np.ndarray, np.ndarray] | None = None  # first frame's (fg, bg) colour samples
        self._recent: collections.deque = collections.deque(maxlen=max(1, self.settings.recent))
        self._held = 0  # frames in a row the collapse guard kept the warp
        self._index = -1
        self.motion: Motion | None = None
        self.note: tuple[str, str] | None = None
        self.uncertain: np.ndarray | None = None
        # Masks of later key frames (index -> mask, read when reached): each re-anchors the carry (_reanchor).
        self.key_masks = key_masks if key_masks is not None else {}
        # A prior of the subject (frame -> mask, e.g. the person prior) that re-seeds a lost subject (_reseed).
        self.reseed = reseed

    # -- colour samples ------------------------------------------------------------------------------------
    def _samples(self, frame: np.ndarray, fg: np.ndarray, bg: np.ndarray, seed: int):
        rng = np.random.default_rng(seed)
        n = self.settings.samples
        out = []
        for m in (fg, bg):  # the same pixels in the same order as _pick(frame[m]), only the picked ones read
            box = _box(m, 0)
            y0, y1, x0, x1 = box if box is not None else (0, 0, 0, 0)
            where = _pick(np.flatnonzero(m[y0:y1, x0:x1]), n, rng)
            out.append(frame[where // max(1, x1 - x0) + y0, where % max(1, x1 - x0) + x0])
        return tuple(out)

    def _surroundings(self, mask: np.ndarray, margin: int) -> np.ndarray:
        """Background near the subject (its box with a margin, minus the mask grown by a pixel)."""
        around = np.zeros(mask.shape, bool)
        box = _box(mask, margin)
        if box is not None:
            y0, y1, x0, x1 = box
            around[y0:y1, x0:x1] = True
        return around & ~_morph(cv2.dilate, mask, 1)

    def _margin(self, mask: np.ndarray) -> int:
        _, _, bw, bh = cv2.boundingRect(np.ascontiguousarray(mask).view(np.uint8))
        return int(max(8, 0.25 * max(bw, bh)))

    # -- the segmenter -------------------------------------------------------------------------------------
    def segment(self, frame: np.ndarray, index: int) -> np.ndarray:
        from .masks import to_mask

        frame = np.asarray(frame)
        if self._own_tracker:
            self.tracker.step(frame)
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if frame.ndim == 3 else frame
        previous_grey, self._grey = self._grey, grey
        self.note, self.uncertain, self.motion = None, None, None
        self._index = index
        if self._mask is not None and index in self.key_masks:  # a key frame: its mask is the segmentation
            return self._reanchor(frame, self.key_masks[index], index)
        if self._mask is None:
            mask = to_mask(self._first, frame.shape[:2]) > 127
            self._mask = mask
            self._anchor_frame = (grey, mask)
            if self._first.shape != frame.shape[:2]:
                self.note = ("guessed", f"the first-frame mask is {self._first.shape[1]}x{self._first.shape[0]}, "
                             f"the frames {frame.shape[1]}x{frame.shape[0]}: resized")  # fmt: skip
            if mask.any():
                fg = cv2.erode(mask.astype(np.uint8), _disc(1)) > 0
                self._anchor = self._samples(frame, fg if fg.sum() >= 10 else mask,
                                             self._surroundings(mask, self._margin(mask)), seed=index)
            else:
                self.note = ("lost", "the first-frame mask is empty")
            return np.where(mask, 255, 0).astype(np.uint8)
        flow = self.tracker.flow
        prev = self._mask
        if flow is None or not prev.any():
            found = self._refind(frame, index) if not prev.any() else None
            if found is not None:
                self._mask = found
                self.note = ("guessed", "the subject re-found where the first frame's mask fits again")
                return np.where(found, 255, 0).astype(np.uint8)
            found = self._reseed(frame, index) if not prev.any() else None
            if found is not None:
                self._mask = found
                self.note = ("guessed", "the subject re-found by the prior (a new mask where it is)")
                return np.where(found, 255, 0).astype(np.uint8)
            if not prev.any():
                self.note = ("lost", "the subject is gone (empty mask)")
            elif flow is None:
                self.note = ("guessed", "no optical flow (frame size changed): the last mask kept")
            return np.where(prev, 255, 0).astype(np.uint8)
        mask = self._carry(frame, flow, prev, previous_grey, index)
        self._mask = mask
        if not mask.any():
            self.note = ("lost", "the subject is gone (empty mask)")
        return np.where(mask, 255, 0).astype(np.uint8)

    def _carry(self, frame, flow, prev, previous_grey, index) -> np.ndarray:
        s = self.settings
        h, w = prev.shape
        short = min(h, w)
        prev_f = prev.astype(np.float32)
        edge_r = max(1, round(s.edge * short))
        reach_r = max(edge_r + 1, round(s.reach * short))
        flow, unreliable = self._subject_flow(flow, prev, previous_grey, reach_r)
        dense = warp_backward(prev_f, flow) > 0.5
        self.motion = _plausible(subject_motion(flow, np.where(prev, 255, 0).astype(np.uint8), margin=2))
        affine = self.motion.warp(prev_f) > 0.5 if self.motion is not None else dense
        if self.motion is None:
            self.motion = Motion(flow=flow)
        forgot = None
        if s.recall:
            # The first frame's mask brought straight onto this frame (long-range flow, checked both ways):
            # where it is trusted near the subject and agrees well enough with the carried mask, its subject
            # pixels join and the carried pixels it calls background are re-decided as probable background.
            recalled, trusted = self._recall(prev, reach_r)
            if trusted is not None:
                trusted &= _morph(cv2.dilate, dense | affine, reach_r)
                said, carried_there = recalled & trusted, (dense | affine) & trusted
                if (said & carried_there).sum() >= s.recall * max(1, (said | carried_there).sum()):
                    dense, affine = dense | said, affine | said
                    forgot = trusted & ~recalled
        carried = dense | affine
        if not carried.any():
            return carried
        if forgot is not None:
            forgot &= carried
        # What stays inside the frame (the warps above replicate the border, so a subject cut by the frame
        # keeps its cut edge): the collapse guard expects no more than this.
        gx, gy = _grid(h, w)
        inside = cv2.remap(prev_f, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)  # fmt: skip
        self._expected = min(int(prev.sum()), int((inside > 0.5).sum()))
        near = _morph(cv2.dilate, carried, reach_r)
        both = dense & affine
        grown = _morph(cv2.dilate, carried, edge_r)
        shrunk = _morph(cv2.erode, both, edge_r)
        # Undecided: the edge band, where the warps disagree, and unreliable flow near the subject.
        undecided = (grown & ~shrunk) | (dense ^ affine) | (unreliable & near)
        if forgot is not None:
            undecided |= forgot
        if not s.colour or self._anchor is None:
            return self._guard(dense, prev, affine, dense)
        sure_fg = carried & ~undecided
        sure_bg = ~carried & ~undecided
        around = self._surroundings(carried, self._margin(carried))
        fg_now, bg_now = self._samples(frame, sure_fg, sure_bg & around, seed=index)
        fg_parts = [self._anchor[0], fg_now] + [r[0] for r in self._recent]
        bg_parts = [self._anchor[1], bg_now] + [r[1] for r in self._recent]
        fg_model = fit_colour_model(np.concatenate(fg_parts), seed=index)
        bg_model = fit_colour_model(np.concatenate(bg_parts), seed=index + 1)
        if fg_model is None or bg_model is None:
            self.note = ("guessed", "too few pixels for a colour model: the warp kept")
            return self._guard(carried, prev, affine, dense)
        box = _box(undecided | carried, edge_r + 2)
        y0, y1, x0, x1 = box
        crop = np.ascontiguousarray(frame[y0:y1, x0:x1])
        # The colour log ratio, once, on the crop's pixels that may change (the subject's interior for the
        # doubt below, the undecided ones); a large interior only at a capped scale (1080p: millions of pixels).
        ratio = np.zeros(crop.shape[:2], np.float32)
        ch, cw = crop.shape[:2]
        fg_crop, und_crop = sure_fg[y0:y1, x0:x1], undecided[y0:y1, x0:x1]
        if s.doubt is not None and fg_crop.sum() + und_crop.sum() <= s.max_pixels:
            _log_ratio_into(ratio, fg_model, bg_model, crop, fg_crop | und_crop)
        else:
            if s.doubt is not None:
                k = min(1.0, (s.max_pixels / (ch * cw)) ** 0.5)
                small = cv2.resize(crop, (max(1, round(cw * k)), max(1, round(ch * k))), interpolation=cv2.INTER_AREA)
                coarse = _log_ratio_into(np.zeros(small.shape[:2], np.float32), fg_model, bg_model, small)
                ratio = cv2.resize(coarse, (cw, ch), interpolation=cv2.INTER_NEAREST)
            _log_ratio_into(ratio, fg_model, bg_model, crop, und_crop)
        if s.doubt is not None:
            # Carried pixels whose colour favours the background are re-decided too (a hole opening inside).
            doubted = fg_crop & (ratio < s.doubt)
            undecided[y0:y1, x0:x1] |= doubted
            sure_fg = carried & ~undecided
        labels = np.full(crop.shape[:2], cv2.GC_BGD, np.uint8)
        und = undecided[y0:y1, x0:x1]
        labels[sure_fg[y0:y1, x0:x1]] = cv2.GC_FGD
        held = carried if forgot is None else carried & ~forgot
        labels[und] = np.where(held[y0:y1, x0:x1][und], cv2.GC_PR_FGD, cv2.GC_PR_BGD)
        cut = self._graph_cut(crop, labels, fg_model, bg_model)
        decided = np.zeros((h, w), bool)
        decided[y0:y1, x0:x1] = cut
        # Carried pixels whose colour still favours the subject stay (the cut's smoothness would shave thin
        # parts); pixels the warps did not carry join only when their colour clearly favours the subject.
        und = undecided[y0:y1, x0:x1]
        adjacent = _morph(cv2.dilate, carried, 1)
        ys, xs = np.nonzero(und)
        if len(xs):
            ratio = ratio[ys, xs]
            was = held[ys + y0, xs + x0]
            may_join = unreliable[ys + y0, xs + x0] | adjacent[ys + y0, xs + x0] if s.strict_join else True
            decided[ys + y0, xs + x0] = np.where(was, decided[ys + y0, xs + x0] | (ratio > 0),
                                                 decided[ys + y0, xs + x0] & (ratio > s.join) & may_join)
        decided = _touching(decided, carried)
        self.uncertain = undecided
        mask = self._guard(decided, prev, affine, dense)
        if self.note is None and (unreliable & mask).sum() <= 0.3 * mask.sum() and mask.sum() >= 20 and s.recent:
            fg = _morph(cv2.erode, mask, 1)
            if index % 5 == 0:
                self._recent.append(self._samples(frame, fg, self._surroundings(mask, self._margin(mask)) & ~undecided,
                                                  seed=index + 2))  # fmt: skip
        return mask

    def _reanchor(self, frame, key_mask, index) -> np.ndarray:
        """A key frame: its mask replaces the carried one and becomes an anchor, as the first frame's is.

        The colour anchor becomes the first frame's samples (kept for the whole video) with this frame's (the
        newest key frame: the subject as it looks now); the recent frames' samples, taken from the carry that
        the key frame corrects, are dropped. The recall and the re-finding of a lost subject keep starting from
        the first frame's mask: a key frame taken while something passes in front of the subject would have
        the recall forget the hidden part once it shows again (on ``chair`` with key frames 0, 20 and 40, the
        carried mask's IoU on the other frames: 0.905 recalling from the first frame, 0.848 from the newest
        key frame). An empty key mask: the subject is gone (the anchors stay as they were).
        """
        from .masks import to_mask

        mask = to_mask(key_mask, frame.shape[:2], name=f"key-frame mask of frame {index}") > 127
        self._mask = mask
        if not mask.any():
            self.note = ("lost", "the key frame's mask is empty: the subject is gone")
            return np.zeros(mask.shape, np.uint8)
        fg = cv2.erode(mask.astype(np.uint8), _disc(1)) > 0
        now = self._samples(frame, fg if fg.sum() >= 10 else mask, self._surroundings(mask, self._margin(mask)),
                            seed=index)  # fmt: skip
        if not hasattr(self, "_first_anchor"):  # the first re-anchoring: the first frame's samples kept for good
            self._first_anchor = self._anchor
        first = self._first_anchor
        self._anchor = now if first is None else tuple(np.concatenate([a, b]) for a, b in zip(first, now))
        self._recent.clear()
        self._held = 0
        return np.where(mask, 255, 0).astype(np.uint8)

    def _subject_flow(self, flow, prev, previous_grey, reach_r):
        """The flow around the subject recomputed on its box at its own scale (both ways), and where it fails.

        The whole frame's flow is computed downscaled; a small subject's thin parts (a leg two pixels wide) are
        then lost in it. On the subject's box, scaled so its longer side is ``flow_side`` (at most 2x up), DIS
        resolves them, and the forward flow gives the forward-backward check there. Outside the box the
        frame's flow stays and counts as reliable.
        """
        s = self.settings
        h, w = prev.shape
        unreliable = np.zeros((h, w), bool)
        if previous_grey is None or previous_grey.shape != self._grey.shape:
            return flow, unreliable
        box = _box(prev, reach_r + max(8, round(0.05 * max(h, w))))
        y0, y1, x0, x1 = box
        back, fwd = self._box_flows(previous_grey, box, check=self._check_dis)
        flow = flow.copy()
        flow[y0:y1, x0:x1] = back
        err = forward_backward_error(back, fwd)
        unreliable[y0:y1, x0:x1] = err > s.consistency + s.consistency_rel * cv2.magnitude(back[..., 0], back[..., 1])
        return flow, unreliable

    def _refind(self, frame, index) -> np.ndarray | None:
        """While the subject is lost, every ``refind``-th frame: the first frame's mask brought onto this frame
        by the long-range flow over the whole frame, kept when that flow is trusted on most of it, its size is
        near the first mask's, and its colours clearly favour the subject's (the flow alone would also "find"
        the subject at its first place, now empty background: colour rules that out)."""
        s = self.settings
        grey0, mask0 = self._anchor_frame
        if not s.refind or self._anchor is None or grey0.shape != self._grey.shape or not mask0.any():
            return None
        if index % s.refind:
            return None
        h, w = grey0.shape
        back, fwd = self._box_flows(grey0, (0, h, 0, w), s.recall_side)
        err = forward_backward_error(back, fwd)
        ok = err <= s.consistency + s.consistency_rel * cv2.magnitude(back[..., 0], back[..., 1])
        found = warp_backward(mask0.astype(np.float32), back) > 0.5
        area, first = int(found.sum()), int(mask0.sum())
        if not first / 2 <= area <= 2 * first or (ok & found).sum() < 0.7 * area:
            return None
        return found if self._subject_colours(frame, found, index) else None

    def _subject_colours(self, frame, found, index) -> bool:
        """Whether the colours of ``found`` clearly favour the anchored subject's model over its surroundings'."""
        fg_model = fit_colour_model(self._anchor[0], seed=index)
        bg_model = fit_colour_model(self._anchor[1], seed=index + 1)
        if fg_model is None or bg_model is None:
            return False
        ratio = colour_log_ratio(fg_model, bg_model, np.asarray(frame)[found])
        return bool((ratio > 0).mean() >= 0.7 and np.median(ratio) >= 1)

    def _reseed(self, frame, index) -> np.ndarray | None:
        """While the subject is lost and the first mask did not fit again, every ``refind``-th frame: the
        prior's mask of this frame (:attr:`reseed`, e.g. the person prior), kept when its area is within 4x of
        the first mask's and its colours favour the subject's. The subject may come back anywhere: the prior
        finds it where the first frame's mask, carried by flow, cannot."""
        from .masks import to_mask

        s = self.settings
        if self.reseed is None or not s.refind or index % s.refind or self._anchor is None:
            return None
        found = to_mask(self.reseed(frame), frame.shape[:2], name="the prior's mask") > 127
        area, first = int(found.sum()), int(self._anchor_frame[1].sum())
        if not area or not first / 4 <= area <= 4 * first:
            return None
        return found if self._subject_colours(frame, found, index) else None

    def _box_flows(self, other_grey, box, side=None, check=None):
        """DIS flows on ``box`` scaled so its longer side is ``flow_side`` (at most 2x up), back in box pixels:
        from this frame to ``other_grey`` and back (that one by the DIS object ``check`` when given)."""
        y0, y1, x0, x1 = box
        bh, bw = y1 - y0, x1 - x0
        k = min(2.0, (side or self.settings.flow_side) / max(bh, bw))
        size = (max(8, round(bw * k)), max(8, round(bh * k)))
        interp = cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR
        cur = cv2.resize(np.ascontiguousarray(self._grey[y0:y1, x0:x1]), size, interpolation=interp)
        other = cv2.resize(np.ascontiguousarray(other_grey[y0:y1, x0:x1]), size, interpolation=interp)
        if check is None or min(size) < 8 << check.getFinestScale():
            check = self._dis  # a pyramid too shallow for the coarser level: OpenCV 5.1's DIS then crashes
        pair = []
        for dis, a, b in ((self._dis, cur, other), (check, other, cur)):
            f = cv2.resize(dis.calc(a, b, None), (bw, bh), interpolation=cv2.INTER_LINEAR)
            f[..., 0] *= bw / size[0]
            f[..., 1] *= bh / size[1]
            pair.append(f)
        return pair

    def _recall(self, prev, reach_r):
        """The first frame's mask brought onto this frame by the flow between them, and where that flow passes
        the forward-backward check (None, None when the subject is far from its first place or of another size)."""
        s = self.settings
        grey0, mask0 = self._anchor_frame
        if grey0.shape != self._grey.shape or not mask0.any():
            return None, None
        h, w = prev.shape
        margin = reach_r + max(8, round(0.05 * max(h, w)))
        a, b = _box(prev, margin), _box(mask0, margin)
        overlap = max(0, min(a[1], b[1]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[2], b[2]))
        areas = sorted(((a[1] - a[0]) * (a[3] - a[2]), (b[1] - b[0]) * (b[3] - b[2])))
        if overlap < 0.5 * areas[0] or areas[0] < 0.25 * areas[1]:
            return None, None  # the subject is far from where it was, or 4x bigger or smaller: no recall
        box = y0, y1, x0, x1 = min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])
        back, fwd = self._box_flows(grey0, box, s.recall_side)
        err = forward_backward_error(back, fwd)
        ok = err <= s.consistency + s.consistency_rel * cv2.magnitude(back[..., 0], back[..., 1])
        recalled = np.zeros((h, w), bool)
        trusted = np.zeros((h, w), bool)
        recalled[y0:y1, x0:x1] = warp_backward(mask0[y0:y1, x0:x1].astype(np.float32), back) > 0.5
        trusted[y0:y1, x0:x1] = ok
        return recalled, trusted

    def _graph_cut(self, crop, labels, fg_model, bg_model) -> np.ndarray:
        h, w = labels.shape
        k = min(1.0, (self.settings.max_pixels / (h * w)) ** 0.5)
        if k < 1:  # high resolution: decide at a smaller scale, keep the certain labels at full size
            small = cv2.resize(crop, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)
            lab = cv2.resize(labels, small.shape[1::-1], interpolation=cv2.INTER_NEAREST)
        else:
            small, lab = crop, labels.copy()
        if not ((lab == cv2.GC_PR_FGD) | (lab == cv2.GC_PR_BGD)).any():
            return (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
        bgd, fgd = bg_model.copy(), fg_model.copy()
        try:
            cv2.grabCut(small, lab, None, bgd, fgd, 1, cv2.GC_EVAL_FREEZE_MODEL)
        except cv2.error:  # a degenerate model: keep the labels as they were
            return (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
        fg = (lab == cv2.GC_FGD) | (lab == cv2.GC_PR_FGD)
        if k < 1:
            fg = cv2.resize(fg.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
            fg = np.where(labels == cv2.GC_FGD, True, np.where(labels == cv2.GC_BGD, False, fg))
        return fg

    def _guard(self, mask: np.ndarray, prev: np.ndarray, *fallbacks: np.ndarray) -> np.ndarray:
        """The mask, unless its area jumps against the previous one; then the first fallback that does not.

        The guard holds for at most ``hold`` frames in a row and not for a mask under ``hold_share`` of the
        first one: a collapse that lasts, or of a subject mostly gone, is the subject leaving."""
        s = self.settings
        before = int(prev.sum())
        low = min(before, getattr(self, "_expected", before))  # part of the subject may have left the frame
        first = int(self._anchor_frame[1].sum()) if getattr(self, "_anchor_frame", None) is not None else 0

        def steady(m):
            a = int(m.sum())
            return before == 0 or (a <= s.jump * before and a * s.jump >= low)

        if steady(mask):
            self._held = 0
            return mask
        if before < s.hold_share * first or self._held >= s.hold:
            self._held = 0
            self.note = ("guessed", f"the mask's area jumped ({before} -> {mask.sum()} px) and stays: taken")
            return mask
        self._held += 1
        for fb in fallbacks:
            if steady(fb):
                self.note = ("guessed", f"the mask's area jumped ({before} -> {mask.sum()} px): the warp kept")
                return fb
        # Everything jumped (a subject leaving the frame fast): the flow's warp is the best evidence left.
        self.note = ("guessed", f"the mask's area jumped ({before} -> {mask.sum()} px)")
        return fallbacks[-1] if fallbacks else mask


@functools.lru_cache(maxsize=2)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (x, y) of an h x w frame, float32 (kept: the same for every frame of a video)."""
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    gx.flags.writeable = gy.flags.writeable = False
    return gx, gy


def _plausible(motion: Motion | None, tolerance: float = 0.08) -> Motion | None:
    """The affine motion, or None when its linear part is far from the identity (between two consecutive
    frames a subject turns and scales little: such a fit came from too few or mixed flow vectors)."""
    if motion is None or motion.affine is None:
        return None
    if np.abs(motion.affine[:, :2] - np.eye(2)).max() > tolerance:
        return None
    return motion


def _touching(mask: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """The pieces of ``mask`` that overlap ``seeds`` (new islands far from the carried mask are dropped)."""
    box = _box(mask, 1)
    if box is None:
        return mask
    y0, y1, x0, x1 = box
    n, lab = cv2.connectedComponents(np.ascontiguousarray(mask[y0:y1, x0:x1]).view(np.uint8), connectivity=8)
    if n <= 2:
        return mask
    hit = np.zeros(n, bool)
    hit[np.unique(lab[seeds[y0:y1, x0:x1] & mask[y0:y1, x0:x1]])] = True
    hit[0] = False
    out = np.zeros(mask.shape, bool)
    out[y0:y1, x0:x1] = hit[lab]
    return out
