"""Argument grids for the layer tests, sized per backend.

On TensorFlow (the home backend) and in the thorough mode every test walks its whole grid: the float64 references
are the same on every backend, so the whole space is checked there. On PyTorch and JAX, whose ops are what those runs
check (JAX compiles every op anew for each shape), the fast mode walks a pairwise covering of the grid instead: a
subset in which every pair of argument values that occurs together in the grid occurs in some case. Any bug that a
single argument value, or an interaction of two, sets off is still hit on every backend; the triple interactions are
left to TensorFlow and to the thorough mode. `HYPERTEXT_FULL_GRIDS=1` walks the whole grids everywhere.
"""

import itertools
import os

import keras

THOROUGH = os.environ.get("HYPERTEXT_THOROUGH") == "1"
FULL = THOROUGH or os.environ.get("HYPERTEXT_FULL_GRIDS") == "1"


def _pairs(case):
    return {(i, case[i], j, case[j]) for i, j in itertools.combinations(range(len(case)), 2)}


def pairwise_cover(cases):
    """A subset of `cases` (tuples of equal length) that holds every pair of values the cases hold, in their order.

    Greedy: each step takes the first case that covers the most pairs not yet covered. Deterministic, so the same
    cases are collected in every run."""
    cases = list(cases)
    uncovered = set().union(*(_pairs(c) for c in cases)) if cases else set()
    chosen = []
    while uncovered:
        best = max(cases, key=lambda c: len(_pairs(c) & uncovered))
        chosen.append(best)
        uncovered -= _pairs(best)
    return [c for c in cases if c in chosen]


def grid(cases, backend=None):
    """`cases` whole on TensorFlow, in the thorough mode or with HYPERTEXT_FULL_GRIDS=1; else their pairwise cover."""
    cases = list(cases)
    backend = backend or keras.backend.backend()
    return cases if FULL or backend == "tensorflow" else pairwise_cover(cases)
