"""Tied (discrete, rounded) data and degenerate columns: right answers or named errors, never NaN.

Independent discrete columns must measure no dependence (ties broken at random per
column, not by row order); entropy and KL of data that look discrete warn; columns that
are functions of each other, linearly dependent columns and too few rows are refused
with a ``ValueError`` naming the problem.
"""

from __future__ import annotations

import math
import warnings

import jax.random as jr
import numpy as np
import pytest
from scipy.stats import norm

import gauss_flows as gf
from gauss_flows._information.gaussian import normal_scores
from gauss_flows._information.ties import dequantize, tie_broken_ranks, tie_broken_scores
from gauss_flows.information import _finite

N = 2000
TOL_ZERO = 0.05


def _integers(seed: int, high: int, shape: tuple[int, int]) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, high, shape).astype(float)


def _sorted_rows(X: np.ndarray) -> np.ndarray:
    return X[np.lexsort(X.T[::-1])]


@pytest.mark.parametrize(
    "label, measure",
    [
        ("MI of two independent 4-level columns", lambda: gf.mutual_information(*_integers(0, 4, (N, 2)).T)),
        ("the same with the rows sorted", lambda: gf.mutual_information(*_sorted_rows(_integers(0, 4, (N, 2))).T)),
        ("MI of normal data rounded to integers", lambda: gf.mutual_information(
            *np.round(np.random.default_rng(0).normal(size=(N, 2))).T)),
        ("TC of three independent binary columns, float32", lambda: gf.total_correlation(
            _integers(0, 2, (N, 3)).astype(np.float32))),
    ],
)
def test_independent_discrete_columns_measure_no_dependence(label, measure):
    value = measure()
    print(f"\n{label}: {value:+.4f} nats (truth 0)")
    assert abs(value) < TOL_ZERO


def test_tie_breaking_is_random_per_column_and_seeded():
    x = _integers(0, 2, (N, 2))
    a = np.asarray(tie_broken_ranks(x, jr.key(0)))
    # Every column is a permutation that keeps the order of distinct values.
    for j in range(2):
        assert sorted(a[:, j]) == list(range(N))
        assert np.all(np.diff(x[np.argsort(a[:, j]), j]) >= 0)
    # Among rows tied in both columns, the two orders are unrelated (by row order, or in
    # the same order in both columns, they would agree exactly).
    tied = (x[:, 0] == 0) & (x[:, 1] == 0)
    assert abs(np.corrcoef(a[tied, 0], a[tied, 1])[0, 1]) < 0.2
    assert np.any(np.diff(a[tied, 0]) < 0)
    assert np.array_equal(a, np.asarray(tie_broken_ranks(x, jr.key(0))))
    assert not np.array_equal(a, np.asarray(tie_broken_ranks(x, jr.key(1))))
    settings = gf.InformationSettings(random_state=3)
    assert gf.total_correlation(x, settings=settings) == gf.total_correlation(x, settings=settings)


@pytest.mark.parametrize("dtype, d", [(np.float64, 2), (np.float32, 3)])
def test_continuous_data_without_ties_are_untouched(dtype, d):
    x = np.random.default_rng(2).normal(size=(N, d)).astype(dtype)
    assert np.array_equal(np.asarray(tie_broken_scores(x, jr.key(5))), np.asarray(normal_scores(x)))
    assert np.array_equal(np.asarray(dequantize(x, jr.key(5))), x)
    with warnings.catch_warnings():
        warnings.simplefilter("error", gf.DiscreteDataWarning)
        gf.entropy(x)


def test_dequantize_keeps_order_and_single_values():
    x = np.array([0.0] * 15 + [1.0] * 10 + [2.5] + [4.0] * 10)[:, None]
    y = np.asarray(dequantize(x, jr.key(0)))[:, 0]
    assert np.all(y[x[:, 0] == 2.5] == 2.5)  # a value seen once stays put
    cells = {0.0: (-0.5, 0.5), 1.0: (0.5, 1.75), 4.0: (3.25, 4.75)}
    for value, (low, high) in cells.items():
        spread = y[x[:, 0] == value]
        assert np.all((low <= spread) & (spread <= high)) and np.unique(spread).size == spread.size


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_entropy_of_discrete_data_warns_and_stays_finite(dtype):
    x = _integers(0, 4, (N, 1)).astype(dtype)
    with pytest.warns(gf.DiscreteDataWarning, match=r"column 0 repeats a value.*no density"):
        h = gf.entropy(x)
    # The data spread over unit cells: the Shannon entropy of four equally likely values.
    assert h == pytest.approx(math.log(4), abs=0.02)


def test_kl_of_discrete_data_warns():
    rng = np.random.default_rng(4)
    with pytest.warns(gf.DiscreteDataWarning, match="^X looks discrete"):
        value = gf.kl_divergence(np.round(rng.normal(size=(N, 2))), rng.normal(size=(N, 2)),
                                 method="gaussian")
    assert math.isfinite(value)


def test_identical_discrete_columns_have_finite_mutual_information():
    """``I(A; A) = H(A)`` is finite for discrete ``A``: no error, a clearly positive estimate."""
    a = _integers(3, 4, (N, 1))
    mi = gf.mutual_information(a, a)
    print(f"\nI(A; A) for A uniform on 4 values: {mi:.4f} nats, truth log 4 = {math.log(4):.4f}")
    assert 0.5 < mi < math.log(4) + 0.05


_rng = np.random.default_rng(7)
_x, _y = _rng.normal(size=(2, 500))
_few_ties = _x.copy()
_few_ties[:3] = _few_ties[3:6]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: gf.total_correlation(np.column_stack([_x, _x])),
         "columns 0 and 1 of X have the same ranks .* total correlation of X is infinite"),
        (lambda: gf.mutual_information(_x, _x),
         "column 0 of X and column 0 of Y have the same ranks .* mutual information of X and Y is infinite"),
        (lambda: gf.mutual_information(_x, np.exp(_x)), "increasing function .* is infinite"),
        (lambda: gf.mutual_information(_x, -_x), "opposite ranks .* decreasing function"),
        (lambda: gf.total_correlation(np.column_stack([_x, 2 * _x + 1, _y])), "columns 0 and 1 of X"),
        (lambda: gf.entropy(np.column_stack([_x, _x])), "no joint density .* -inf"),
        (lambda: gf.total_correlation(np.column_stack([_x, _y, _x + _y])),
         r"columns 0, 1 and 2 of X are linearly dependent"),
        (lambda: gf.entropy(np.column_stack([_x, _y, _x - 2 * _y])), "linearly dependent .* no joint density"),
        (lambda: gf.mutual_information(np.column_stack([_x, _y]), _x + _y),
         "columns 0 and 1 of X and column 0 of Y are linearly dependent"),
        (lambda: gf.mutual_information(np.column_stack([_x, _x]), _y),
         "columns 0 and 1 of X .* drop the redundant columns of X"),
        (lambda: gf.mutual_information(_few_ties.astype(np.float32), _few_ties.astype(np.float32)),
         "perfectly correlated in float32"),
        (lambda: gf.total_correlation(_rng.normal(size=(25, 30))), r"25 rows and 30 columns.*\(at least 31\)"),
        (lambda: gf.entropy(_rng.normal(size=(25, 30))), "entropy needs more rows than columns"),
        (lambda: gf.mutual_information(_rng.normal(size=(25, 15)), _rng.normal(size=(25, 15))),
         "X and Y have 25 rows and 30 columns together"),
        (lambda: gf.kl_divergence(_rng.normal(size=(500, 2)), np.column_stack([_x, _x])),
         "columns 0 and 1 of Y .* KL"),
    ],
)
def test_degenerate_data_raise_a_named_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_no_nan_escapes():
    with pytest.raises(ValueError, match="mutual information estimate is NaN"):
        _finite(float("nan"), "mutual information")
    assert _finite(-math.inf, "entropy") == -math.inf


def test_a_curve_in_the_plane_is_flagged_not_reported_as_negative():
    """X on a 1-D curve (a swiss roll) in 2-D: the fit cannot resolve it, and says so."""
    rng = np.random.default_rng(0)
    z = rng.multivariate_normal([0.0, 0.0], [[1.0, 0.75], [0.75, 1.0]], size=1000)
    t = 1.5 * np.pi * (1 + 2 * norm.cdf(z[:, 0]))
    x = np.column_stack([t * np.cos(t), t * np.sin(t)]) / 21.0
    with pytest.warns(gf.information.UnresolvedDependenceWarning, match="raw mutual information"):
        mi = gf.mutual_information(x, norm.cdf(z[:, 1:]))
    assert mi >= 0.0
