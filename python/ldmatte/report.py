"""The per-image refinement report, a small typed object that serialises to JSON."""
from __future__ import annotations

import dataclasses
import json

import numpy as np

from ._stats import STAT_FIELDS

HAZE_FIELDS = ("no_clear_background", "haze_floor", "haze_floor_max")  # after the statistics in to_dict()


@dataclasses.dataclass(frozen=True)
class RefineReport:
    """What :func:`ldmatte.refine_alpha` changed in one image.

    Pixel counts are absolute; ``*_share`` properties are fractions of the image.
    ``U`` is the uncertain region ``bg_tol < alpha < 255 - fg_tol``.
    ``no_clear_background``: more than half of the frame pixels that are not
    opaque core lie above ``bg_tol`` (not checked with ``haze_floor="off"``);
    ``haze_floor`` and ``haze_floor_max``: the mean and the largest level of
    the haze floor removed before refinement (0 when none was). The pixel
    counts compare the refined alpha with the alpha after that removal.
    """

    height: int
    width: int
    pixels_raised: int
    pixels_lowered: int
    band_components: int
    interior_components: int
    floating_components: int
    isolated_components: int
    islands_removed: int
    island_pixels_removed: int
    transition_pixels_before: int
    transition_pixels_after: int
    uncertain_pixels: int
    uncertain_pixels_kept: int
    # The haze step's decision, (no_clear_background, haze_floor, haze_floor_max): an init-only value, so that
    # the dataclass fields stay the statistics contract (height, width, then _stats.STAT_FIELDS in order).
    haze: dataclasses.InitVar[tuple | None] = None

    def __post_init__(self, haze):
        no_clear, mean, top = haze if haze is not None else (False, 0.0, 0)
        object.__setattr__(self, "_haze", (bool(no_clear), float(mean), int(top)))

    @property
    def no_clear_background(self) -> bool:
        """More than half of the frame's non-core pixels lie above ``bg_tol`` (not checked with ``"off"``)."""
        return self._haze[0]

    @property
    def haze_floor(self) -> float:
        """Mean level of the haze floor removed before refinement (0.0: none)."""
        return self._haze[1]

    @property
    def haze_floor_max(self) -> int:
        """Highest level of that floor (a gradient floor is higher on one side)."""
        return self._haze[2]

    def __eq__(self, other):
        if not isinstance(other, RefineReport):
            return NotImplemented
        return dataclasses.astuple(self) == dataclasses.astuple(other) and self._haze == other._haze

    __hash__ = None  # equal reports compare their haze too; a report is a value, not a key

    def __repr__(self):
        fields = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self))
        haze = ", ".join(f"{k}={v!r}" for k, v in zip(HAZE_FIELDS, self._haze))
        return f"RefineReport({fields}, {haze})"

    @classmethod
    def from_stats(cls, stats, height: int, width: int, floor=None) -> "RefineReport":
        """The report of one image from its statistics row and, optionally, its ``_haze.HazeFloor``."""
        values = [int(v) for v in np.asarray(stats).reshape(-1)]
        if len(values) != len(STAT_FIELDS):
            raise ValueError(f"expected {len(STAT_FIELDS)} statistics, got {len(values)}")
        haze = None
        if floor is not None:
            haze = (floor.no_clear_background, *floor.levels(height, width))
        return cls(int(height), int(width), **dict(zip(STAT_FIELDS, values)), haze=haze)

    @property
    def pixels(self) -> int:
        return self.height * self.width

    @property
    def transition_share_before(self) -> float:
        """Share of the image with 0 < alpha < 255 before refinement."""
        return self.transition_pixels_before / self.pixels if self.pixels else 0.0

    @property
    def transition_share_after(self) -> float:
        return self.transition_pixels_after / self.pixels if self.pixels else 0.0

    @property
    def uncertain_kept_share(self) -> float:
        """Share of U that survived as a kept (border band / isolated) component."""
        return self.uncertain_pixels_kept / self.uncertain_pixels if self.uncertain_pixels else 1.0

    @property
    def changed_share(self) -> float:
        return (self.pixels_raised + self.pixels_lowered) / self.pixels if self.pixels else 0.0

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.update(zip(HAZE_FIELDS, self._haze))
        for name in ("transition_share_before", "transition_share_after", "uncertain_kept_share", "changed_share"):
            d[name] = round(getattr(self, name), 6)
        return d

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, d: dict) -> "RefineReport":
        """The report back from :meth:`to_dict` (a record written before a field existed gets its default)."""
        names = {f.name for f in dataclasses.fields(cls)}
        haze = tuple(d.get(k, default) for k, default in zip(HAZE_FIELDS, (False, 0.0, 0)))
        return cls(**{k: int(v) for k, v in d.items() if k in names}, haze=haze)


def reports_from_stats(stats, height: int, width: int, floors=None):
    """One report, or a list of them for a (B, K) stats array (host or device); ``floors`` per image, optional."""
    from ._arrays import as_host

    stats = np.asarray(as_host(stats))
    if stats.ndim == 1:
        return RefineReport.from_stats(stats, height, width, floors[0] if floors else None)
    floors = floors if floors else [None] * len(stats)
    return [RefineReport.from_stats(row, height, width, f) for row, f in zip(stats, floors)]
