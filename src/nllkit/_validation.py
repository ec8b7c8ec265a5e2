"""Input checking for :mod:`nllkit.numerics`, :mod:`nllkit.losses`, :mod:`nllkit.gradients`
and :mod:`nllkit.checking`, so that their bodies show only the formula.

Every message of the first three names the public function, the argument, the offending value
(or its index) and what was expected, so that a learner who passes a wrong array sees at once
what to fix. The checking tools' messages (the last section) name the argument and what was
wrong, as they always have.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

#: The reductions every loss accepts.
REDUCTIONS = ("mean", "sum", "none")


def names_itself(func: Callable[..., Any]) -> Callable[..., Any]:
    """Prefix the ``TypeError``/``ValueError`` of ``func``'s input checks with its name.

    The checking and reference functions share their input checks, which name the argument; the
    reader who passed it needs the function too ("mp_sigmoid: x must be real numbers …").
    """

    @functools.wraps(func)
    def named(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (TypeError, ValueError) as error:
            if str(error).startswith(f"{func.__name__}:"):
                raise
            raise type(error)(f"{func.__name__}: {error}") from None

    return named


def as_float_array(x: Any, name: str, func: str) -> np.ndarray:
    """``x`` as a float32 or float64 array.

    float32 and float64 are kept, float16 becomes float32, bool and integer arrays (and Python
    ints) become float64. Anything else — complex, object, strings, datetimes — is a
    ``TypeError``.
    """
    arr = np.asarray(x)
    kind = arr.dtype.kind
    if kind == "f":
        if arr.dtype == np.float64 or arr.dtype == np.float32:
            return arr
        if arr.dtype == np.float16:
            return arr.astype(np.float32)
        raise TypeError(
            f"{func}: {name} has dtype {arr.dtype}; expected float32, float64, integer or bool"
        )
    if kind in "biu":
        return arr.astype(np.float64)
    raise TypeError(
        f"{func}: {name} has dtype {arr.dtype}; expected float32, float64, integer or bool"
    )


def result_dtype(*arrays: np.ndarray) -> np.dtype:
    """float64 if any array is float64, else float32."""
    return np.result_type(*[a.dtype for a in arrays])


def scalar_or_array(out: np.ndarray) -> Any:
    """A 0-d result as a numpy scalar, anything else unchanged."""
    return out[()] if out.ndim == 0 else out


def check_reduction(reduction: Any, func: str) -> str:
    """Return ``reduction`` if it is one of :data:`REDUCTIONS`, else raise ``ValueError``."""
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(
            f"{func}: reduction={reduction!r} is not supported; expected one of "
            f"'mean', 'sum', 'none'"
        )
    return reduction


def reduce(loss: np.ndarray, reduction: str) -> Any:
    """Apply a checked reduction to an elementwise/per-row loss."""
    if reduction == "none":
        return scalar_or_array(loss)
    if reduction == "sum":
        return loss.sum(dtype=loss.dtype)
    return loss.mean(dtype=loss.dtype)


def broadcast_shape(func: str, **arrays: np.ndarray) -> tuple[int, ...]:
    """The broadcast shape of the named arrays, or a ``ValueError`` naming them and their shapes."""
    try:
        return np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{k} has shape {v.shape}" for k, v in arrays.items())
        raise ValueError(f"{func}: shapes do not broadcast: {shapes}") from None


def first_index(mask: np.ndarray) -> tuple[int, ...]:
    """Index (as a tuple) of the first true element of ``mask``."""
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(mask)), mask.shape))


def check_in_unit_interval(x: np.ndarray, name: str, func: str) -> None:
    """Raise ``ValueError`` unless every element lies in [0, 1] (NaN is rejected too)."""
    bad = ~((x >= 0) & (x <= 1))
    if bad.any():
        idx = first_index(bad)
        raise ValueError(
            f"{func}: {name}{list(idx)} = {float(x[idx])!r} is outside [0, 1]; "
            f"expected probabilities in [0, 1]"
        )


def probability_sum_tolerance(dtype: np.dtype) -> float:
    """Tolerance on :math:`|\\sum_j p_j - 1|`: ``max(1e-6, 1024 * eps)`` of ``dtype``.

    That is 1e-6 for float64 and about 1.2e-4 for float32 (whose own rounding of a sum of a
    thousand terms already reaches ~1e-5).
    """
    return max(1e-6, 1024.0 * float(np.finfo(dtype).eps))


def check_probability_vectors(p: np.ndarray, name: str, func: str) -> None:
    """Raise ``ValueError`` unless every row (last axis) of ``p`` is a probability vector.

    Entries must lie in [0, 1] (NaN is rejected) and each row must sum to 1 within
    :func:`probability_sum_tolerance`.
    """
    check_in_unit_interval(p, name, func)
    if p.ndim == 0:
        raise ValueError(f"{func}: {name} is a scalar; expected a probability vector")
    total = p.sum(axis=-1, dtype=np.float64)
    tol = probability_sum_tolerance(p.dtype)
    bad = ~(np.abs(total - 1.0) <= tol)
    if bad.any():
        idx = first_index(bad)
        raise ValueError(
            f"{func}: {name}{list(idx)} sums to {float(total[idx])!r}; expected each "
            f"probability vector to sum to 1 (tolerance {tol:.3g})"
        )


def normalise_axis(axis: Any, ndim: int, func: str, name: str = "x") -> int:
    """``axis`` as a non-negative int in ``range(ndim)``, else ``ValueError``/``TypeError``."""
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer):
        raise TypeError(f"{func}: axis={axis!r} must be an int")
    if ndim == 0:
        raise ValueError(f"{func}: {name} is a scalar; expected an array with at least one axis")
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{func}: axis={axis} is out of range for an array with {ndim} dimension(s); "
            f"expected -{ndim} <= axis < {ndim}"
        )
    return int(axis) % ndim


def sum_to_shape(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a broadcast gradient ``g`` back to ``shape`` (the adjoint of broadcasting)."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1
    )
    return g.sum(axis=axes, keepdims=True).reshape(shape)


# --------------------------------------------------------------------------------------------
# The inputs of the losses (and of their gradients, which take the same arguments)


def _bce_inputs(logits: Any, targets: Any, func: str) -> tuple[np.ndarray, np.ndarray, np.dtype]:
    """Checked float64 ``(z, y)`` broadcast together, and the dtype of the result."""
    z = as_float_array(logits, "logits", func)
    y = as_float_array(targets, "targets", func)
    shape = broadcast_shape(func, logits=z, targets=y)
    check_in_unit_interval(y, "targets", func)
    dtype = result_dtype(z, y)
    z64 = np.broadcast_to(z.astype(np.float64, copy=False), shape)
    y64 = np.broadcast_to(y.astype(np.float64, copy=False), shape)
    return z64, y64, dtype


def _cross_entropy_inputs(
    logits: Any, target: Any, func: str
) -> tuple[np.ndarray, np.ndarray, bool, np.dtype, tuple[int, ...]]:
    """Checked ``(rows, target, is_index, dtype, batch_shape)`` for cross-entropy.

    ``rows`` are the logits as float64 of shape ``(n, k)``; ``target`` is either ``n`` class
    indices (int64) or an ``(n, k)`` float64 array of probabilities.
    """
    z = as_float_array(logits, "logits", func)
    if z.ndim == 0:
        raise ValueError(
            f"{func}: logits is a scalar; expected shape (..., K) with the classes last"
        )
    batch, k = z.shape[:-1], z.shape[-1]
    t = np.asarray(target)
    if t.dtype.kind in "iu":
        if t.shape != batch:
            raise ValueError(
                f"{func}: target has shape {t.shape}; integer class indices must have shape "
                f"logits.shape[:-1] = {batch}"
            )
        bad = (t < 0) | (t >= k)
        if bad.any():
            idx = first_index(bad)
            raise ValueError(
                f"{func}: target{list(idx)} = {int(t[idx])} is not a class index; "
                f"expected an integer in [0, {k - 1}] (logits has {k} classes)"
            )
        dtype = z.dtype
        target_out = t.astype(np.int64, copy=False).reshape(-1)
        is_index = True
    elif t.dtype.kind == "b":
        raise TypeError(
            f"{func}: target has dtype bool; expected integer class indices of shape {batch} "
            f"or float probabilities of shape {z.shape}"
        )
    else:
        p = as_float_array(t, "target", func)
        if p.shape != z.shape:
            hint = (
                "; float targets are always probabilities: pass class indices as an integer array"
                if p.shape == batch
                else ""
            )
            raise ValueError(
                f"{func}: target has shape {p.shape}; probability targets must have the shape "
                f"of logits {z.shape}{hint}"
            )
        if k == 0:
            raise ValueError(f"{func}: logits has 0 classes; expected at least one")
        check_probability_vectors(p, "target", func)
        dtype = result_dtype(z, p)
        target_out = np.ascontiguousarray(p, dtype=np.float64).reshape(-1, k)
        is_index = False
    rows = np.ascontiguousarray(z, dtype=np.float64).reshape(-1, k)
    return rows, target_out, is_index, dtype, batch


def _gaussian_inputs(
    y: Any, mean: Any, var: Any, func: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.dtype]:
    """Checked float64 ``(y, mean, var)`` broadcast together, and the dtype of the result."""
    ya = as_float_array(y, "y", func)
    ma = as_float_array(mean, "mean", func)
    va = as_float_array(var, "var", func)
    shape = broadcast_shape(func, y=ya, mean=ma, var=va)
    bad = ~((va > 0) & (va < np.inf))
    if bad.any():
        idx = first_index(bad)
        raise ValueError(
            f"{func}: var{list(idx)} = {float(va[idx])!r}; expected positive, finite variances"
        )
    dtype = result_dtype(ya, ma, va)
    arrays = (np.broadcast_to(a.astype(np.float64, copy=False), shape) for a in (ya, ma, va))
    y64, m64, v64 = arrays
    return y64, m64, v64, dtype


def _distributions(p: Any, name: str, axis: int, func: str) -> np.ndarray:
    """``p`` checked as probability vectors along ``axis``, moved to the last axis."""
    arr = as_float_array(p, name, func)
    ax = normalise_axis(axis, arr.ndim, func, name)
    moved = np.moveaxis(arr, ax, -1)
    check_probability_vectors(moved, name, func)
    return moved


# --------------------------------------------------------------------------------------------
# The inputs of the checking tools (:mod:`nllkit.checking`)


def _scalar_function(f: Any) -> Callable[[np.ndarray], float]:
    """``f`` wrapped so that each call returns a finite float, or raises.

    ``TypeError`` if ``f`` is not callable or returns something that is not one real number;
    ``ValueError`` if it returns NaN or an infinity (a central difference of those is
    meaningless, and would silently poison the gradient).
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")

    def value(point: np.ndarray) -> float:
        out = f(point)
        out_arr = np.asarray(out)
        if out_arr.size != 1 or out_arr.dtype.kind not in "biuf":
            raise TypeError(
                f"f must return a real scalar, got {type(out).__name__} "
                f"with shape {out_arr.shape} and dtype {out_arr.dtype}"
            )
        result = float(out_arr.reshape(()))
        if not math.isfinite(result):
            raise ValueError(f"f returned a non-finite value {result} near x")
        return result

    return value


def _finite_point(x: Any) -> np.ndarray:
    """``x`` as a float64 array (a copy) of finite reals, else ``TypeError``/``ValueError``."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"x must be real numeric, got dtype {arr.dtype}")
    x64 = arr.astype(np.float64)
    if not np.all(np.isfinite(x64)):
        raise ValueError("x must be finite; found NaN or inf")
    return x64


def _steps(step: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``step`` broadcast to ``shape`` as float64, each positive and finite, else ``ValueError``."""
    h_in = np.asarray(step, dtype=np.float64)
    try:
        h = np.broadcast_to(h_in, shape).astype(np.float64)
    except ValueError:
        raise ValueError(
            f"step of shape {h_in.shape} does not broadcast to x of shape {shape}"
        ) from None
    if not np.all(np.isfinite(h) & (h > 0)):
        raise ValueError(f"step must be positive and finite, got {step!r}")
    return h


def broadcast_pair(
    a: np.ndarray, b: np.ndarray, name_a: str, name_b: str
) -> tuple[np.ndarray, np.ndarray]:
    """``a`` and ``b`` broadcast together; ``ValueError`` naming both shapes if they do not."""
    try:
        return np.broadcast_arrays(a, b)
    except ValueError:
        raise ValueError(
            f"shapes of {name_a} {a.shape} and {name_b} {b.shape} do not broadcast"
        ) from None


def _float_pair(a: Any, b: Any, dtypes: Any) -> tuple[np.ndarray, np.ndarray]:
    """``a`` and ``b`` as contiguous arrays of one of ``dtypes``, the same for both, broadcast
    together (0-d stays 0-d); ``TypeError`` for another or a mixed dtype, ``ValueError`` for
    shapes that do not broadcast."""
    arrays = []
    for name, v in (("a", a), ("b", b)):
        arr = np.asarray(v)
        if arr.dtype not in dtypes:
            raise TypeError(f"{name} must be float16, float32 or float64, got dtype {arr.dtype}")
        arrays.append(arr)
    a_arr, b_arr = arrays
    if a_arr.dtype != b_arr.dtype:
        raise TypeError(
            f"a and b must have the same dtype, got {a_arr.dtype} and {b_arr.dtype}; "
            "cast the reference to the dtype of the result first"
        )
    a_arr, b_arr = broadcast_pair(a_arr, b_arr, "a", "b")
    return np.array(a_arr), np.array(b_arr)  # contiguous copies, 0-d stays 0-d
