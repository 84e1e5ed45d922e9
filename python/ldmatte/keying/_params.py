"""Shared checks for the keyers' parameter objects."""
from __future__ import annotations

import math


def check_number(owner: str, name: str, value, lo: float, hi: float, lo_open: bool = False) -> float:
    """``value`` as a float in [lo, hi] (or (lo, hi] with ``lo_open``), else a clear ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{owner}.{name} must be a finite number, got {value!r}")
    value = float(value)
    if value > hi or value < lo or (lo_open and value == lo):
        lo_txt = f"({lo}" if lo_open else f"[{lo}"
        raise ValueError(f"{owner}.{name} must be in {lo_txt}, {hi}], got {value!r}")
    return value


def check_screen(owner: str, value) -> str:
    if value not in ("auto", "green", "blue"):
        raise ValueError(f"{owner}.screen must be 'auto', 'green' or 'blue', got {value!r}")
    return value
