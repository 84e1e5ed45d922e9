"""Private Numba kernels behind the public functions (no validation here)."""
