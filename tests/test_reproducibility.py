"""nllkit.seed and the book's figure style."""

from __future__ import annotations

import random

import matplotlib as mpl
import numpy as np
import pytest
import torch

import nllkit


def test_seed_returns_a_generator_that_repeats():
    first = nllkit.seed(7).standard_normal(5)
    second = nllkit.seed(7).standard_normal(5)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, nllkit.seed(8).standard_normal(5))


def test_seed_seeds_python_numpy_and_torch():
    nllkit.seed(3)
    draws = (random.random(), np.random.random(), torch.rand(1).item())  # noqa: NPY002
    nllkit.seed(3)
    assert draws == (random.random(), np.random.random(), torch.rand(1).item())  # noqa: NPY002


def test_seed_makes_torch_deterministic_on_one_thread():
    nllkit.seed(0)
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.get_num_threads() == 1


@pytest.mark.parametrize("bad", [1.5, "0", None, True])
def test_seed_rejects_non_integers(bad):
    with pytest.raises(TypeError, match="value"):
        nllkit.seed(bad)


def test_seed_rejects_negative_values_and_thread_counts():
    with pytest.raises(ValueError, match="value"):
        nllkit.seed(-1)
    with pytest.raises(ValueError, match="torch_threads"):
        nllkit.seed(0, torch_threads=0)


def test_book_style_uses_the_palette_and_white_figures():
    nllkit.use_book_style()
    colors = mpl.rcParams["axes.prop_cycle"].by_key()["color"]
    assert [c.lower() for c in colors] == [c.lower() for c in nllkit.BOOK_COLORS]
    assert mpl.colors.to_hex(mpl.rcParams["figure.facecolor"]) == "#ffffff"
    assert mpl.rcParams["axes.spines.top"] is False


def test_seed_uses_its_value_for_every_generator():
    """Each generator is seeded with ``value`` itself (not a constant): the draws after
    ``seed(v)`` are those of the generator's own seeding with ``v``, and differ between
    two values."""
    for value in (3, 4):
        nllkit.seed(value)
        ours = (random.random(), np.random.random(), torch.rand(1).item())  # noqa: NPY002
        random.seed(value)
        np.random.seed(value)  # noqa: NPY002
        torch.manual_seed(value)
        assert ours == (random.random(), np.random.random(), torch.rand(1).item())  # noqa: NPY002
    nllkit.seed(3)
    three = torch.rand(3)
    nllkit.seed(4)
    assert not torch.equal(three, torch.rand(3))
