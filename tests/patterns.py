"""The shared test inputs live in :mod:`ldmatte.reference.patterns` (the benchmarks use them too)."""
from ldmatte.reference.patterns import (adversarial_masks, alpha_from_mask, blobs, chessboard, comb,  # noqa: F401
                                        diagonal_stripes, load_rgba, make_rgba, random_mask, real_rgba, snake,
                                        spiral)  # fmt: skip
