"""The per-backend layer grids (tests/grids.py): a pairwise cover holds every pair of argument values of its grid."""

import itertools

from tests import grids
from tests.layers import test_per_sample_conv1d, test_per_sample_conv1d_transpose


def _value_pairs(cases):
    return set().union(*(grids._pairs(c) for c in cases))


def test_a_pairwise_cover_keeps_every_pair_of_values_and_is_a_smaller_subset():
    for grid in (test_per_sample_conv1d.GRID, test_per_sample_conv1d_transpose.GRID,
                 list(itertools.product("ab", "xyz", (1, 2, 3, 4)))):
        cover = grids.pairwise_cover(grid)
        assert set(cover) <= set(grid) and len(cover) == len(set(cover))
        assert _value_pairs(cover) == _value_pairs(grid)
        assert len(cover) <= len(grid) // (2 if len(grid) < 50 else 5)
        assert cover == grids.pairwise_cover(grid)  # the same cases in every run
    # 2 x 3 x 4 values: at least 12 cases hold the 12 pairs of the last two arguments
    assert len(grids.pairwise_cover(itertools.product("ab", "xyz", (1, 2, 3, 4)))) == 12


def test_the_whole_grid_on_tensorflow_a_cover_elsewhere(monkeypatch):
    grid = test_per_sample_conv1d.GRID
    monkeypatch.setattr(grids, "FULL", False)  # the fast mode's grids, in either mode
    assert grids.grid(grid, backend="tensorflow") == grid
    assert grids.grid(grid, backend="jax") == grids.pairwise_cover(grid) != grid
    monkeypatch.setattr(grids, "FULL", True)
    assert grids.grid(grid, backend="jax") == grid
