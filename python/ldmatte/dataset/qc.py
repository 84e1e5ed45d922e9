"""Quality control: the deletion of bad samples, one rule per reason code.

Every rule reads the *refined* alpha (and, for one rule, the refinement
report) and compares one measure with one threshold of :class:`QCConfig`. A
sample is kept when no rule fires; the manifest stores the codes that fired,
the measures and a readable line per reason.

The subject is the largest 8-connected component of ``alpha > 0``. Default
thresholds were set from measurements on the real Layer Diffusion samples and
on synthetic portraits with constructed bad kinds (see ``QCConfig``); each
sits several times away from what good samples reach.
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

__all__ = ["QCConfig", "RULES", "Verdict", "evaluate", "measure"]


@dataclasses.dataclass(frozen=True)
class QCConfig:
    """Thresholds of the quality-control rules (fractions unless said otherwise).

    Attributes
    ----------
    no_subject_area : float
        ``no_subject`` when the subject covers less than this share of the image
        (default 0.002: nothing there; every other rule is skipped).
    min_subject_area : float
        ``subject_too_small`` below this share (default 0.05; the smallest real
        sample, a small corgi, covers 0.13, synthetic portraits 0.39..0.44).
    max_top_contact : float
        ``head_cut_top`` when the subject's opaque part (alpha >= 128) covers more
        than this share of the top row (default 0.02; 0 on every real sample).
    max_side_contact : float
        ``cut_at_sides`` when it covers more than this share of the left or right
        column (default 0.30; shoulders of head-and-shoulders portraits reach
        0.06..0.09, a cat cut at the left 0.37, an armoured bust 0.53).
    max_second_subject : float
        ``several_subjects`` when the second-largest component is larger than
        this share of the largest (default 0.25; refinement already removes
        pieces below 0.05, real samples have none left, two people reach ~1).
    max_haze, haze_distance : float
        ``haze_left`` when more than ``max_haze`` of the visible pixels are
        translucent and farther than ``haze_distance`` x the short side from
        the opaque core (defaults 0.25 and 0.02; good real samples reach 0.05,
        realistic synthetic 0.10, the hazy woman 0.55, the glass bottle 0.76).
        Translucent and opaque use the refinement's tolerances:
        ``bg_tol < alpha < 255 - fg_tol`` counts, ``alpha >= 255 - fg_tol`` is
        the core. The faint (``1..bg_tol``) and near-opaque pixels that
        refinement's hysteresis keeps next to the border band are hair tips
        and the top of a soft ramp, not haze (faint speckle elsewhere is
        already 0); the faint ones still count as visible.
    max_uniform : float
        ``near_uniform_alpha`` when one alpha value covers more than this share
        of the image (default 0.98; real samples at most 0.87).
    max_repaired : float
        ``changed_too_much`` when refinement repaired (raised, lowered or removed
        as islands) uncertain pixels amounting to more than this share of the
        visible pixels (default 0.10; real samples at most 0.032, realistic
        synthetic 0.016). Needs the refinement report; skipped without it.
    max_haze_floor : float
        ``haze_floor_too_high`` when refinement removed a haze floor (a
        background without clear pixels, ``haze_floor="auto"``) whose highest
        level is above this share of full opacity (default 0.375, alpha 96).
        Generators' hazes sit at alpha 10..80 (a Flux-LayerDiffuse portrait
        68..77); above 96 the refined matte keeps fewer than 160 of its 256
        levels and the "haze" is more likely a translucent subject (fog, glass,
        smoke) than a generator's floor. Needs the refinement report; skipped
        without it.
    """

    no_subject_area: float = 0.002
    min_subject_area: float = 0.05
    max_top_contact: float = 0.02
    max_side_contact: float = 0.30
    max_second_subject: float = 0.25
    max_haze: float = 0.25
    haze_distance: float = 0.02
    max_uniform: float = 0.98
    max_repaired: float = 0.10
    max_haze_floor: float = 0.375

    def __post_init__(self):
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
                raise ValueError(f"QCConfig.{f.name} must be a number in [0, 1], got {v!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


Rule = dataclasses.make_dataclass("Rule", ["code", "measure", "threshold", "above", "text"], frozen=True)
RULES = (
    Rule("no_subject", "subject_area", "no_subject_area", False, "no subject"),
    Rule("subject_too_small", "subject_area", "min_subject_area", False, "subject too small"),
    Rule("head_cut_top", "top_contact", "max_top_contact", True, "cut by the top frame"),
    Rule("cut_at_sides", "side_contact", "max_side_contact", True, "cut at the sides"),
    Rule("several_subjects", "second_subject", "max_second_subject", True, "several large subjects"),
    Rule("haze_left", "haze", "max_haze", True, "haze left after refinement"),
    Rule("near_uniform_alpha", "uniform", "max_uniform", True, "near-uniform alpha"),
    Rule("changed_too_much", "repaired", "max_repaired", True, "refinement changed too much"),
    Rule("haze_floor_too_high", "haze_floor", "max_haze_floor", True, "haze floor too high to trust"),
)
REASON_CODES = tuple(r.code for r in RULES)


@dataclasses.dataclass(frozen=True)
class Verdict:
    """Outcome of quality control for one sample."""

    keep: bool
    reasons: tuple
    measures: dict
    details: tuple

    def to_dict(self) -> dict:
        measures = {k: (None if v is None else round(float(v), 6)) for k, v in self.measures.items()}
        return {"keep": self.keep, "reasons": list(self.reasons), "details": list(self.details), "measures": measures}


def _components(visible: np.ndarray):
    """Labels of the visible pixels and the component areas, largest first (label ids alongside)."""
    from .. import label

    labels, num = label(visible, connectivity=8, return_num=True)
    from .. import component_stats

    area = component_stats(labels, num).area
    order = np.argsort(-area, kind="stable")
    return labels, area[order], order + 1


def _contacts(alpha: np.ndarray, subject: np.ndarray) -> tuple[float, float]:
    """Shares of the top row and of the worse side column covered by the opaque part of the subject."""
    solid = subject & (alpha >= 128)
    h, w = alpha.shape
    top = np.count_nonzero(solid[0]) / w
    side = max(np.count_nonzero(solid[:, 0]), np.count_nonzero(solid[:, -1])) / h
    return float(top), float(side)


def _haze(alpha: np.ndarray, visible_count: int, distance: float, fg_tol: int, bg_tol: int) -> float:
    # The refinement's classes: what hysteresis keeps at 1..bg_tol (hair tips) and 255-fg_tol..254 (the top of a
    # soft ramp) next to the band is not haze; counting it pushed small synthetic portraits over the limit.
    soft = (alpha > bg_tol) & (alpha < 255 - fg_tol)
    if not soft.any():
        return 0.0
    core = alpha >= 255 - fg_tol
    if not core.any():
        return np.count_nonzero(soft) / visible_count
    far = cv2.distanceTransform((~core).view(np.uint8), cv2.DIST_L2, 3) > distance * min(alpha.shape)
    return np.count_nonzero(soft & far) / visible_count


def measure(alpha, report=None, config: QCConfig | None = None, *, fg_tol: int | None = None,
            bg_tol: int | None = None) -> dict:
    """The measures the rules compare (see :class:`QCConfig`); ``repaired`` and ``haze_floor`` are None
    without a report (``haze_floor``: the highest level of the haze floor removed, over 255).

    ``fg_tol`` and ``bg_tol`` are the tolerances the alpha was refined with
    (default: the refinement defaults, ``ldmatte.DEFAULTS``); ``haze`` counts
    only ``bg_tol < alpha < 255 - fg_tol``.

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte.dataset.qc import measure
    >>> a = np.zeros((100, 100), np.uint8); a[40:100, 30:70] = 255
    >>> m = measure(a)
    >>> m["subject_area"], m["top_contact"], m["side_contact"], m["uniform"]
    (0.24, 0.0, 0.0, 0.76)
    """
    config = config or QCConfig()
    a, fg, bg = _check_alpha(alpha), _check_tol("fg_tol", fg_tol), _check_tol("bg_tol", bg_tol)
    if bg >= 255 - fg:
        raise ValueError(f"bg_tol ({bg}) must be below 255 - fg_tol ({255 - fg})")
    visible = a > 0
    count = int(np.count_nonzero(visible))
    m = dict.fromkeys(("subject_area", "top_contact", "side_contact", "second_subject", "haze"), 0.0)
    m["uniform"] = int(cv2.calcHist([a], [0], None, [256], [0, 256]).max()) / a.size  # 5x np.bincount
    m["repaired"] = m["haze_floor"] = None
    if report is not None:
        fixed = report.uncertain_pixels - report.uncertain_pixels_kept + report.island_pixels_removed
        m["repaired"] = fixed / max(count, 1)
        m["haze_floor"] = report.haze_floor_max / 255
    if count == 0:
        return m
    labels, areas, ids = _components(visible)
    m["subject_area"] = float(areas[0] / a.size)
    m["second_subject"] = float(areas[1] / areas[0]) if len(areas) > 1 else 0.0
    m["top_contact"], m["side_contact"] = _contacts(a, labels == ids[0])
    m["haze"] = float(_haze(a, count, config.haze_distance, fg, bg))
    return m


def _check_tol(name: str, tol) -> int:
    if tol is None:
        from .. import DEFAULTS

        return int(DEFAULTS[name])
    if isinstance(tol, bool) or not isinstance(tol, (int, np.integer)) or not 0 <= tol <= 254:
        raise ValueError(f"{name} must be an integer in 0..254, got {tol!r}")
    return int(tol)


def _check_alpha(alpha) -> np.ndarray:
    a = np.asarray(alpha)
    if a.dtype != np.uint8:
        raise TypeError(f"alpha must be uint8, got {a.dtype}")
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"alpha must be a non-empty (H, W) array, got shape {a.shape}")
    return np.ascontiguousarray(a)


def evaluate(alpha, report=None, config: QCConfig | None = None, measures: dict | None = None, *,
             fg_tol: int | None = None, bg_tol: int | None = None) -> Verdict:
    """Run every rule on a refined alpha (and its :class:`~ldmatte.RefineReport`).

    Parameters
    ----------
    alpha : (H, W) uint8 array
        The refined alpha.
    report : RefineReport, optional
        Needed by ``changed_too_much``; that rule is skipped without it.
    config : QCConfig, optional
    measures : dict, optional
        Precomputed :func:`measure` output (re-thresholding without the image).
    fg_tol, bg_tol : int, optional
        The tolerances the alpha was refined with (default: the refinement
        defaults); the haze measure counts only ``bg_tol < alpha < 255 - fg_tol``.

    Returns
    -------
    Verdict

    Examples
    --------
    >>> import numpy as np
    >>> from ldmatte.dataset.qc import evaluate
    >>> a = np.zeros((100, 100), np.uint8); a[0:60, 30:70] = 255   # touches the top row
    >>> v = evaluate(a)
    >>> v.keep, v.reasons
    (False, ('head_cut_top',))
    """
    config = config or QCConfig()
    m = measure(alpha, report, config, fg_tol=fg_tol, bg_tol=bg_tol) if measures is None else dict(measures)
    reasons, details = [], []
    for rule in RULES:
        value, limit = m.get(rule.measure), getattr(config, rule.threshold)
        if value is None or (rule.code != "no_subject" and "no_subject" in reasons):
            continue
        if (value > limit) if rule.above else (value < limit):
            reasons.append(rule.code)
            details.append(f"{rule.text}: {rule.measure} {value:.4g} {'>' if rule.above else '<'} {limit:g}")
    return Verdict(not reasons, tuple(reasons), m, tuple(details))
