"""Seeding, so that every chapter prints the same numbers on every run.

Defined in :ref:`chapter-learning-as-optimisation` (the book's set-up cell) and used by every
chapter.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

__all__ = ["seed"]


def seed(value: int = 0, *, torch_threads: int = 1) -> np.random.Generator:
    """Seed every random number generator the book uses and make torch deterministic.

    Seeds Python's :mod:`random`, numpy's legacy global generator and torch's CPU generator with
    ``value``; switches torch to deterministic algorithms; pins torch to ``torch_threads`` CPU
    threads (a parallel reduction may add in a different order from run to run and change the
    last bits of a printed number); and returns a fresh ``numpy.random.Generator`` seeded with
    ``value`` — the generator the chapters draw from.

    Called in the first cell of every chapter, from :ref:`chapter-learning-as-optimisation` on.

    Parameters
    ----------
    value : int
        The seed, a non-negative integer.
    torch_threads : int, optional
        Number of CPU threads torch may use. The default, 1, makes reductions bitwise
        reproducible across machines with different core counts.

    Returns
    -------
    numpy.random.Generator
        ``numpy.random.default_rng(value)``.

    Raises
    ------
    TypeError
        If ``value`` or ``torch_threads`` is not an integer.
    ValueError
        If ``value`` is negative or ``torch_threads`` is smaller than 1.

    Notes
    -----
    torch is optional: if it is not installed only Python and numpy are seeded. torch is kept
    on the CPU; the book never uses a GPU, whose kernels are not bitwise reproducible.

    Examples
    --------
    >>> rng = seed(0)
    >>> float(rng.standard_normal()) == float(seed(0).standard_normal())
    True
    """
    _check_seed(value, torch_threads)
    value = int(value)
    random.seed(value)
    # Seeded too, so that code (or a library) still using numpy's global generator repeats.
    np.random.seed(value % 2**32)  # noqa: NPY002
    try:
        import torch
    except ImportError:  # torch is an optional oracle for learners who install nllkit alone
        pass
    else:
        torch.manual_seed(value)
        _deterministic_torch(torch)
        torch.set_num_threads(int(torch_threads))
    return np.random.default_rng(value)


def _deterministic_torch(torch) -> None:
    """``torch.use_deterministic_algorithms(True)``, without its 2 s import.

    The public function also sets the flag in torch.compile's (inductor's) configuration,
    and importing that configuration loads torch._dynamo: 2 s of CPU in every chapter, for a
    compiler the book never uses. The flag itself is one call into torch's C++ core.
    """
    set_flag = getattr(torch._C, "_set_deterministic_algorithms", None)
    if set_flag is None:  # another torch: the public route
        torch.use_deterministic_algorithms(True)
    else:
        set_flag(True)


def _check_seed(value: Any, torch_threads: Any) -> None:
    """seed's arguments: integers, value >= 0 and torch_threads >= 1 (each error says which)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"seed: `value` must be an integer, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"seed: `value` must be non-negative, got {value}")
    if isinstance(torch_threads, bool) or not isinstance(torch_threads, (int, np.integer)):
        raise TypeError(
            f"seed: `torch_threads` must be an integer, got {type(torch_threads).__name__}"
        )
    if torch_threads < 1:
        raise ValueError(f"seed: `torch_threads` must be at least 1, got {torch_threads}")
