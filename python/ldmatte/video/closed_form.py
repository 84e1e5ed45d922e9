"""Closed-form matting (Levin et al. 2008) with the matting Laplacian built for the unknown pixels only.

pymatting's ``estimate_alpha_cf`` builds the Laplacian of the whole image it is
given (25 entries a pixel, known or not) and then slices out the unknown rows:
on a video frame's band (a few percent of the frame) most of that work and
memory is for rows it throws away. :func:`solve_closed_form` computes the same
entries, window by window in the same order (so the same values), but keeps
only the rows of unknown pixels, and solves the same system. pymatting's
``cf_laplacian`` is its reference in the tests.

The system is solved with conjugate gradients to the same relative residual
as pymatting's (1e-7), preconditioned not by pymatting's incomplete Cholesky but
by a complete sparse factorisation in single precision (SuperLU in symmetric
mode: minimum-degree ordering on the pattern of ``L + L^T``, no pivoting, which
a symmetric positive definite matrix does not need). One or two steps of
iterative refinement (residuals in double precision) then repair the single
precision down to CG's stopping rule; CG, warm-started, is the fallback. On a 960x540 frame
whose band holds 82k unknowns (hair) this takes half the time of ``ichol`` + CG
(the factorisation in double precision alone takes more; incomplete Cholesky
with looser thresholds, Jacobi and algebraic-multigrid preconditioners all
needed hundreds of iterations). Where the single-precision factorisation fails
the double-precision one solves directly, and where the matrix is singular
(an image under 3 pixels high or wide, where no window fits) pymatting's
solver gives today's answer or error. pymatting's ``estimate_alpha_cf`` is the
reference in the tests.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse
from numba import njit

__all__ = ["solve_closed_form"]


@njit("void(f8[:, :, :], f8, b1[:, :], i8[:], f8[:, :, :])", cache=True, nogil=True)
def _unknown_rows(image, epsilon, is_known, row_of, values):  # pragma: no cover - compiled
    # pymatting's _cf_laplacian (radius 1), accumulating only into the rows of unknown pixels.
    h, w, _ = image.shape
    r = 1
    size = 3
    area = 9
    c = np.zeros((3, 3, 3))
    for y in range(r, h - r):
        for x in range(r, w - r):
            if np.all(is_known[y - r:y + r + 1, x - r:x + r + 1]):
                continue
            for dc in range(3):
                s = 0.0
                for dy in range(size):
                    for dx in range(size):
                        s += image[y + dy - r, x + dx - r, dc]
                for dy in range(size):
                    for dx in range(size):
                        c[dy, dx, dc] = image[y + dy - r, x + dx - r, dc] - s / area
            a00 = epsilon
            a01 = 0.0
            a02 = 0.0
            a11 = epsilon
            a12 = 0.0
            a22 = epsilon
            for dy in range(size):
                for dx in range(size):
                    a00 += c[dy, dx, 0] * c[dy, dx, 0]
                    a01 += c[dy, dx, 0] * c[dy, dx, 1]
                    a02 += c[dy, dx, 0] * c[dy, dx, 2]
                    a11 += c[dy, dx, 1] * c[dy, dx, 1]
                    a12 += c[dy, dx, 1] * c[dy, dx, 2]
                    a22 += c[dy, dx, 2] * c[dy, dx, 2]
            a00 /= area
            a01 /= area
            a02 /= area
            a11 /= area
            a12 /= area
            a22 /= area
            det = a00 * a12 * a12 + a01 * a01 * a22 + a02 * a02 * a11 - a00 * a11 * a22 - 2 * a01 * a02 * a12
            inv_det = 1.0 / det
            m00 = (a12 * a12 - a11 * a22) * inv_det
            m01 = (a01 * a22 - a02 * a12) * inv_det
            m02 = (a02 * a11 - a01 * a12) * inv_det
            m11 = (a02 * a02 - a00 * a22) * inv_det
            m12 = (a00 * a12 - a01 * a02) * inv_det
            m22 = (a01 * a01 - a00 * a11) * inv_det
            for dyi in range(size):
                for dxi in range(size):
                    yi = y + dyi - r
                    xi = x + dxi - r
                    row = row_of[xi + yi * w]
                    if row < 0:
                        continue
                    s0 = c[dyi, dxi, 0]
                    t0 = c[dyi, dxi, 1]
                    u0 = c[dyi, dxi, 2]
                    c0 = m00 * s0 + m01 * t0 + m02 * u0
                    c1 = m01 * s0 + m11 * t0 + m12 * u0
                    c2 = m02 * s0 + m12 * t0 + m22 * u0
                    for dyj in range(size):
                        for dxj in range(size):
                            temp = c0 * c[dyj, dxj, 0] + c1 * c[dyj, dxj, 1] + c2 * c[dyj, dxj, 2]
                            value = (1.0 if (dyi == dyj and dxi == dxj) else 0.0) - (1 + temp) / area
                            values[row, dyj - dyi + 2 * r, dxj - dxi + 2 * r] += value


@njit(cache=True, nogil=True)
def _assemble(values, unknown, row_of, is_fg, h, w):  # pragma: no cover - compiled
    # The CSR arrays of the unknown rows (columns in raster order, explicit zeros kept, as pymatting's slice
    # keeps them) and b = -(the unknown rows' known-foreground columns summed).
    n = len(unknown)
    indptr = np.zeros(n + 1, np.int64)
    indices = np.empty(n * 25, np.int64)
    data = np.empty(n * 25)
    b = np.zeros(n)
    k = 0
    for i in range(n):
        uy, ux = unknown[i] // w, unknown[i] % w
        for dy in range(5):
            ny = uy + dy - 2
            if ny < 0 or ny >= h:
                continue
            for dx in range(5):
                nx = ux + dx - 2
                if nx < 0 or nx >= w:
                    continue
                col = row_of[ny * w + nx]
                if col >= 0:
                    indices[k] = col
                    data[k] = values[i, dy, dx]
                    k += 1
                elif is_fg[ny, nx]:
                    b[i] -= values[i, dy, dx]
        indptr[i + 1] = k
    return indptr, indices[:k].copy(), data[:k].copy(), b


def unknown_laplacian(image: np.ndarray, trimap: np.ndarray, epsilon: float = 1e-7):
    """The matting Laplacian's unknown rows: ``(L_U, b)``, the system ``L_U x = b`` closed-form matting solves.

    ``image``: (H, W, 3) float64 in [0, 1]; ``trimap``: (H, W) float in [0, 1] (0 background, 1 foreground,
    anything between unknown). ``L_U`` is the CSR matrix over the unknown pixels (raster order), ``b`` is
    ``-R m`` (``R``: the unknown rows' known columns, ``m``: 1 for known foreground).
    """
    h, w = trimap.shape
    is_fg, is_bg = trimap >= 0.9, trimap <= 0.1
    is_known = is_fg | is_bg
    unknown = np.flatnonzero(~is_known)
    row_of = np.full(h * w, -1, np.int64)
    row_of[unknown] = np.arange(len(unknown))
    values = np.zeros((len(unknown), 5, 5))
    _unknown_rows(np.ascontiguousarray(image, np.float64), float(epsilon), np.ascontiguousarray(is_known), row_of,
                  values)  # fmt: skip
    indptr, indices, data, b = _assemble(values, unknown, row_of, np.ascontiguousarray(is_fg), h, w)
    lu = scipy.sparse.csr_matrix((data, indices, indptr), shape=(len(unknown), len(unknown)))
    return lu, b


def solve_closed_form(image: np.ndarray, trimap: np.ndarray, epsilon: float = 1e-7) -> np.ndarray:
    """Closed-form alpha in [0, 1] (float64, (H, W)), as pymatting's ``estimate_alpha_cf`` computes it.

    ``image`` (H, W, 3) float64 in [0, 1], ``trimap`` (H, W) in [0, 1]; it must hold known foreground and
    known background (pymatting raises otherwise; here the caller checks).

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((8, 8, 3)); img[:, 4:] = 1
    >>> tri = np.full((8, 8), 0.5); tri[:, :2] = 0; tri[:, 6:] = 1
    >>> np.round(solve_closed_form(img, tri)[3], 2).tolist()
    [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]
    """
    lu, b = unknown_laplacian(image, trimap, epsilon)
    x = np.asarray(trimap, np.float64).copy().ravel()
    unknown = ~((x >= 0.9) | (x <= 0.1))
    if unknown.any():
        x[unknown] = _solve(lu, b)
    return np.clip(x, 0, 1).reshape(trimap.shape)


def _solve(lu: scipy.sparse.csr_matrix, b: np.ndarray, maxiter: int = 50) -> np.ndarray:
    """``L_U^-1 b``: CG preconditioned by a single-precision sparse LU; double precision or ichol where it fails."""
    import scipy.sparse.linalg
    from pymatting.solver.cg import cg

    # L_U is symmetric (but for rounding): its CSR arrays read as CSC are L_U^T, as good a preconditioner,
    # without the conversion.
    a32 = scipy.sparse.csc_matrix((lu.data.astype(np.float32), lu.indices, lu.indptr), shape=lu.shape)
    options = {"permc_spec": "MMD_AT_PLUS_A", "diag_pivot_thresh": 0.0, "options": {"SymmetricMode": True}}
    try:
        factor = scipy.sparse.linalg.splu(a32, **options)

        def precondition(r: np.ndarray) -> np.ndarray:
            return factor.solve(r.astype(np.float32)).astype(np.float64)

        # Iterative refinement (the residual in double precision) reaches CG's stopping rule, a residual under
        # 1e-7 of b's, in one step on real frames (1e-10), with one solve and two products fewer than CG.
        x, goal = precondition(b), 1e-7 * np.linalg.norm(b)
        for _ in range(2):
            r = b - lu @ x
            if np.linalg.norm(r) <= goal:
                break
            x = x + precondition(r)
        else:
            x = cg(lu, b, x0=x, M=precondition, maxiter=maxiter)
        if np.isfinite(x).all():
            return x
    except (RuntimeError, ValueError):  # a zero pivot in single precision, or CG did not converge with it
        pass
    try:
        return scipy.sparse.linalg.splu(lu.tocsc(), **options).solve(b)
    except RuntimeError:  # "Factor is exactly singular": no window links an unknown pixel to a known one
        from pymatting.preconditioner.ichol import ichol

        return cg(lu, b, M=ichol(lu))
