"""Input grids of the accuracy table and the inputs of the speed table.

The accuracy grids cover the domain that issue 3 states the accuracy bounds for: |x| up to 800,
±inf, NaN, inputs whose results are subnormal (in float64 and in float32), rows where one logit
leads by up to 800, rows with -inf entries, constant rows up to 1e300. They are seeded, so every
run measures the same points, and small enough that the mpmath references take seconds.
"""

from __future__ import annotations

import numpy as np

SEED = 20261121
ROW_LENGTH = 8  # short accuracy rows
LONG_ROW_LENGTH = 1000  # long accuracy rows, as long as the speed rows


def _rng(salt: int) -> np.random.Generator:
    return np.random.default_rng([SEED, salt])


def _symmetric(values: np.ndarray) -> np.ndarray:
    return np.concatenate([-values[::-1], values])


def elementwise_grid(dtype: type) -> np.ndarray:
    """x for sigmoid, log_sigmoid and softplus: about 3,200 points.

    Every integer in [-800, 800]; a dense uniform sample of [-40, 40] where the functions bend;
    log-spaced magnitudes 1e-30 … 800 of both signs; the strips whose sigmoid is subnormal in
    float64 (x in [-750, -700]) and in float32 (x in [-105, -85]); and ±0, ±inf, NaN and the
    smallest subnormal and normal numbers of ``dtype``.
    """
    rng = _rng(1)
    info = np.finfo(dtype)
    tiny_sub = np.nextafter(dtype(0), dtype(1))
    special = np.array(
        [0.0, -0.0, np.inf, -np.inf, np.nan, tiny_sub, -tiny_sub, info.tiny, -info.tiny],
        dtype=dtype,
    )
    parts = [
        np.arange(-800.0, 801.0),
        rng.uniform(-40, 40, 800),
        _symmetric(np.logspace(-30, np.log10(800), 200)),
        rng.uniform(-750, -700, 150),
        rng.uniform(-105, -85, 150),
    ]
    return np.concatenate([np.concatenate(parts).astype(dtype), special])


def probability_grid(dtype: type) -> np.ndarray:
    """p for logit: about 1,700 points in [0, 1].

    A uniform sample; every 1/1000; log-spaced p from 1e-300 (0 or subnormal in float32) and 1 − p
    from 1e-16; the floats next to 1/2 (where logit cancels); 0, 1 and the smallest subnormal.
    """
    rng = _rng(2)
    eps = np.finfo(dtype).eps
    tiny_sub = np.nextafter(dtype(0), dtype(1))
    near_half = dtype(0.5) + eps * np.arange(-20, 21, dtype=dtype)
    parts = [
        rng.uniform(0, 1, 400),
        np.linspace(0, 1, 1001),
        np.logspace(-300, -0.5, 150),
        1 - np.logspace(-16, -0.5, 100),
    ]
    special = np.array([0.0, 1.0, tiny_sub], dtype=dtype)
    return np.concatenate([np.concatenate(parts).astype(dtype), near_half, special])


def bce_grid(dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """(logits, targets) for binary cross-entropy: about 2,400 pairs.

    Logits every 4 in [-800, 800], a uniform sample of [-40, 40] and ±inf, each paired with a hard
    target 0, a hard target 1, the soft target 1/2 and a uniform soft target.
    """
    rng = _rng(3)
    z = np.concatenate(
        [np.arange(-800.0, 801.0, 4.0), rng.uniform(-40, 40, 200), [np.inf, -np.inf]]
    )
    soft = rng.uniform(0, 1, z.size)
    targets = np.concatenate([np.zeros(z.size), np.ones(z.size), np.full(z.size, 0.5), soft])
    return np.tile(z, 4).astype(dtype), targets.astype(dtype)


def row_grid(dtype: type, *, all_neg_inf: bool = False) -> np.ndarray:
    """Rows of ``ROW_LENGTH`` logits for logsumexp, softmax, log_softmax, cross_entropy.

    About 320 rows: normal rows of scale 1, 10 and 100; rows uniform on [-800, 800]; rows whose
    first logit leads the others by d for d from 1 to 800 (the log-softmax tail, subnormal softmax
    entries), placed anywhere in [-100, 100]; rows with one to seven -inf entries; constant rows c
    with |c| from 1e-3 to 1e300 (1e38 in float32) of both signs; rows with entries up to ±1e300
    (±1e38). With ``all_neg_inf`` one row of only -inf is added (logsumexp is -inf there; softmax
    and log_softmax are undefined, so their grids leave it out).
    """
    rng = _rng(4)
    n = ROW_LENGTH
    top = 300 if np.dtype(dtype) == np.float64 else 38
    blocks = [rng.normal(0, scale, (30, n)) for scale in (1, 10, 100)]
    blocks.append(rng.uniform(-800, 800, (30, n)))
    leads = np.concatenate([np.linspace(1, 800, 50), [36, 37, 37.5, 38, 40, 708, 745, 746]])
    offset = rng.uniform(-100, 100, (leads.size, 1))
    lead_rows = offset - leads[:, None] - rng.exponential(3, (leads.size, n))
    lead_rows[:, 0] = offset[:, 0]
    lead_rows[::2, 1] = offset[::2, 0] - leads[::2]  # the runner-up exactly d behind
    blocks.append(lead_rows)
    neg_inf_rows = rng.normal(0, 5, (40, n))
    for i, row in enumerate(neg_inf_rows):
        row[rng.permutation(n)[: 1 + i % (n - 1)]] = -np.inf
    blocks.append(neg_inf_rows)
    constants = _symmetric(np.logspace(-3, top, 25))
    blocks.append(np.repeat(constants[:, None], n, axis=1))
    blocks.append(rng.uniform(-1, 1, (20, n)) * 10.0 ** rng.uniform(top - 30, top, (20, 1)))
    if all_neg_inf:
        blocks.append(np.full((1, n), -np.inf))
    return np.concatenate(blocks).astype(dtype)


def long_row_grid(dtype: type) -> np.ndarray:
    """19 rows of ``LONG_ROW_LENGTH`` logits: where sums of many terms can lose accuracy.

    Normal rows of scale 1, 10 and 100 and rows uniform on [-800, 800] (two each); rows whose
    first logit leads the 999 others by 37, 40, 100, 700, 745 and 800 (about 745 the terms
    e^(x_j - m) are subnormal, and a thousand of them are summed); two rows with half their
    entries -inf; constant rows of -1e300, 3 and 1e300 (±1e38 in float32).
    """
    rng = _rng(9)
    n = LONG_ROW_LENGTH
    big = 1e300 if np.dtype(dtype) == np.float64 else 1e38
    blocks = [rng.normal(0, scale, (2, n)) for scale in (1, 10, 100)]
    blocks.append(rng.uniform(-800, 800, (2, n)))
    leads = np.array([37.0, 40.0, 100.0, 700.0, 745.0, 800.0])
    lead_rows = -leads[:, None] - rng.exponential(1, (leads.size, n))
    lead_rows[:, 0] = 0.0
    blocks.append(lead_rows)
    half_inf = rng.normal(0, 5, (2, n))
    half_inf[:, rng.permutation(n)[: n // 2]] = -np.inf
    blocks.append(half_inf)
    blocks.append(np.repeat(np.array([[-big], [3.0], [big]]), n, axis=1))
    return np.concatenate(blocks).astype(dtype)


def class_targets(rows: np.ndarray) -> np.ndarray:
    """One class index per row: the leading logit for half the rows (the log-softmax tail),
    otherwise a random class whose logit is finite."""
    rng = _rng(5)
    k = np.empty(rows.shape[0], dtype=np.int64)
    for i, row in enumerate(rows):
        finite = np.flatnonzero(np.isfinite(row))
        k[i] = np.argmax(row) if i % 2 == 0 else rng.choice(finite)
    return k


def probability_targets(rows: np.ndarray) -> np.ndarray:
    """Soft targets shaped like ``rows``: positive weights on the finite logits (zero on -inf
    ones), summing to 1; every fourth row one-hot."""
    rng = _rng(6)
    t = rng.dirichlet(np.ones(rows.shape[1]), rows.shape[0]) * np.isfinite(rows)
    t[::4] = np.eye(rows.shape[1])[class_targets(rows)[::4]]
    t /= t.sum(axis=1, keepdims=True)
    return t.astype(rows.dtype)


def distribution_grid(dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """Well-conditioned (p, q) for entropy and KL: 200 pairs of positive probability rows."""
    rng = _rng(7)
    p = np.concatenate(
        [rng.dirichlet(np.ones(ROW_LENGTH), 100), rng.dirichlet(np.full(8, 0.3), 100)]
    )
    q = np.concatenate(
        [rng.dirichlet(np.ones(ROW_LENGTH), 100), rng.dirichlet(np.full(8, 3.0), 100)]
    )
    p, q = np.maximum(p, 1e-30), np.maximum(q, 1e-30)
    return (p / p.sum(1, keepdims=True)).astype(dtype), (q / q.sum(1, keepdims=True)).astype(dtype)


def speed_inputs() -> dict[str, np.ndarray]:
    """float64 inputs of 10**6 elements (rows of 1000 for the axis functions), seeded."""
    rng = _rng(8)
    rows = rng.normal(0, 10, (1000, 1000))
    p_rows = rng.dirichlet(np.ones(1000), 1000)
    return {
        "x": rng.normal(0, 10, 10**6),
        "p": rng.uniform(0, 1, 10**6),
        "y": rng.uniform(0, 1, 10**6),
        "rows": rows,
        "k": rng.integers(0, 1000, 1000),
        "t": rng.dirichlet(np.ones(1000), 1000),
        "p_rows": p_rows,
        "q_rows": rng.dirichlet(np.ones(1000), 1000),
    }
