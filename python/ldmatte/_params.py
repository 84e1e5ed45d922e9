"""The settings of the alpha refinement, as one object: :class:`RefineParams`."""
from __future__ import annotations

import dataclasses
import math

import numpy as np

__all__ = ["RefineParams", "DEFAULTS", "check_connectivity", "check_haze_floor"]


def check_connectivity(connectivity) -> int:
    """``connectivity`` as an int, or a ValueError unless it is 4 or 8."""
    if connectivity not in (4, 8) or isinstance(connectivity, bool):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity!r}")
    return int(connectivity)


def check_haze_floor(value):
    """``"auto"``, ``"off"`` or an int level 0..254, or a ValueError naming the choices."""
    if isinstance(value, str) and value in ("auto", "off"):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) and 0 <= value <= 254:
        return int(value)
    raise ValueError(f'haze_floor must be "auto", "off" or an integer level in 0..254, got {value!r}')


def _tolerance(name: str, tol) -> int:
    if isinstance(tol, bool) or not isinstance(tol, (int, np.integer)) or not 0 <= tol <= 254:
        raise ValueError(f"{name} must be an integer in 0..254, got {tol!r}")
    return int(tol)


@dataclasses.dataclass(frozen=True)
class RefineParams:
    """Settings of :func:`ldmatte.refine_alpha` and :func:`ldmatte.refine`, validated once.

    The defaults were chosen by measurement on the synthetic quality set
    (``bench/quality.py``, ``bench/RESULTS.md``). The public functions keep
    their keyword arguments and build one of these; it then travels to the
    kernels unchanged.

    Attributes
    ----------
    fg_tol, bg_tol : int
        Opaque (``alpha >= 255 - fg_tol``) and clear (``alpha <= bg_tol``)
        tolerances in levels, 0..254, with ``bg_tol < 255 - fg_tol``.
    connectivity : {8, 4}
    snap : bool
        Write the opaque core as 255 and clear background as 0.
    fill_interior : bool
        Raise translucent regions enclosed by the core to 255.
    min_subject_fraction : float or None
        Keep support components at least this fraction (0..1) of the largest;
        None turns the subject rule off.
    hysteresis : bool
        Tolerance pixels next to the kept border band keep their value
        instead of being snapped: faint ones (``1 <= alpha <= bg_tol``: hair
        tips) and near-opaque ones (``255 - fg_tol <= alpha <= 254``: the top
        of a soft ramp), when they are neighbours (in ``connectivity``) of a
        band pixel that is kept. Faint speckle and interior jitter elsewhere
        are still snapped. Only acts with ``snap``. A reach of one pixel was
        measured best (``bench/RESULTS.md``): following faint pixels further,
        as Canny's hysteresis does, keeps wide faint haze. On by default
        (quality control's haze measure counts only the transition region
        ``bg_tol < alpha < 255 - fg_tol``, so the kept pixels are not taken
        for haze).
    haze_floor : "auto", "off" or int
        A background without clear pixels (a generator's haze over the whole
        background) is background: ``"auto"`` (default) checks the frame of
        every image; when more than half of its pixels that are not opaque
        core lie above ``bg_tol`` (no clear background) and the image has an
        opaque core, a plane (uniform when flat) is fitted to those frame
        pixels, refitted without the ones far above it (a subject only adds
        opacity). Where it explains the frame (half of it within 12 levels, at
        most 5 % far below it or clear far above it) at a level above
        ``bg_tol``, that haze floor is removed, ``alpha' = round((alpha - h) *
        255 / (255 - h))`` above it and 0 elsewhere, and the frame counts as
        clear background, so a transition component touching it is never
        raised as an interior error. An image with a clear background is
        refined exactly as with ``"off"``. An integer removes that uniform
        floor from every image (the frame rule as for ``"auto"``); ``"off"``
        checks nothing (the rule without this step). See ``ldmatte._haze``.
        Left out of :meth:`as_dict` (and ``DEFAULTS``) at ``"auto"``.

    Examples
    --------
    >>> from ldmatte import RefineParams
    >>> p = RefineParams(fg_tol=4, min_subject_fraction=None)
    >>> p.fg_tol, p.bg_tol, p.subject_rule
    (4, 8, False)
    >>> RefineParams(bg_tol=250)
    Traceback (most recent call last):
    ...
    ValueError: bg_tol (250) must be below 255 - fg_tol (247): FG and BG would overlap
    """

    fg_tol: int = 8
    bg_tol: int = 8
    connectivity: int = 8
    snap: bool = True
    fill_interior: bool = True
    min_subject_fraction: float | None = 0.05
    hysteresis: bool = True
    haze_floor: str | int = "auto"  # HAZE_FLOOR_DEFAULT

    def __post_init__(self):
        fg_tol = _tolerance("fg_tol", self.fg_tol)
        bg_tol = _tolerance("bg_tol", self.bg_tol)
        if bg_tol >= 255 - fg_tol:
            raise ValueError(f"bg_tol ({bg_tol}) must be below 255 - fg_tol ({255 - fg_tol}): FG and BG would overlap")
        connectivity = check_connectivity(self.connectivity)
        msf = self.min_subject_fraction
        if msf is not None:
            try:
                msf = float(msf)
            except (TypeError, ValueError):
                raise ValueError(f"min_subject_fraction must be in [0, 1] or None, got {msf!r}") from None
            if not 0.0 <= msf <= 1.0 or math.isnan(msf):
                raise ValueError(f"min_subject_fraction must be in [0, 1] or None, got {self.min_subject_fraction!r}")
        # Normalised plain Python values: the kernels and the CUDA binding get exactly these.
        for name, value in (("fg_tol", fg_tol), ("bg_tol", bg_tol), ("connectivity", connectivity),
                            ("snap", bool(self.snap)), ("fill_interior", bool(self.fill_interior)),
                            ("min_subject_fraction", msf), ("hysteresis", bool(self.hysteresis)),
                            ("haze_floor", check_haze_floor(self.haze_floor))):  # fmt: skip
            object.__setattr__(self, name, value)

    @property
    def subject_rule(self) -> bool:
        """Is the subject rule on (``min_subject_fraction`` is not None)?"""
        return self.min_subject_fraction is not None

    def as_dict(self) -> dict:
        """The settings as keyword arguments of :func:`ldmatte.refine`.

        ``haze_floor`` is left out at its default (``"auto"``): settings recorded
        before it existed (``refine``'s per-image JSON, a dataset's settings)
        then still equal the defaults, as the images they describe, which have
        a clear background, are refined the same.
        """
        d = dataclasses.asdict(self)
        if d["haze_floor"] == HAZE_FLOOR_DEFAULT:
            del d["haze_floor"]
        return d


HAZE_FLOOR_DEFAULT = "auto"  # not in DEFAULTS (see RefineParams.as_dict)

# The defaults as a plain dict (the keyword defaults of refine / refine_alpha and the CLI's defaults).
DEFAULTS = RefineParams().as_dict()
