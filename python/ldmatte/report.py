"""The per-image refinement report, a small typed object that serialises to JSON."""
from __future__ import annotations

import dataclasses
import json

import numpy as np

from ._stats import STAT_FIELDS


@dataclasses.dataclass(frozen=True)
class RefineReport:
    """What :func:`ldmatte.refine_alpha` changed in one image.

    Pixel counts are absolute; ``*_share`` properties are fractions of the image.
    ``U`` is the uncertain region ``bg_tol < alpha < 255 - fg_tol``.
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

    @classmethod
    def from_stats(cls, stats, height: int, width: int) -> "RefineReport":
        values = [int(v) for v in np.asarray(stats).reshape(-1)]
        if len(values) != len(STAT_FIELDS):
            raise ValueError(f"expected {len(STAT_FIELDS)} statistics, got {len(values)}")
        return cls(int(height), int(width), **dict(zip(STAT_FIELDS, values)))

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
        for name in ("transition_share_before", "transition_share_after", "uncertain_kept_share", "changed_share"):
            d[name] = round(getattr(self, name), 6)
        return d

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, d: dict) -> "RefineReport":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: int(v) for k, v in d.items() if k in names})


def reports_from_stats(stats, height: int, width: int):
    """One report, or a list of them for a (B, K) stats array (host or device)."""
    from ._arrays import as_host

    stats = np.asarray(as_host(stats))
    if stats.ndim == 1:
        return RefineReport.from_stats(stats, height, width)
    return [RefineReport.from_stats(row, height, width) for row in stats]
