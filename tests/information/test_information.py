"""Information measures against closed-form truth (n = 2000, mean over 5 seeds).

Run with ``pytest -s`` to see the per-seed errors and their spread. The full sweep over
d = 2, 5, 10 is marked slow; the default run keeps a representative subset.
"""

from __future__ import annotations

import numpy as np
import pytest
from _information_cases import make_case, make_kl_case, oracle_errors

import gauss_flows as gf
from gauss_flows._information.entropy1d import negentropy_null, spacing_entropy
from gauss_flows._information.gaussian import logdet_bias

N_SEEDS = 5
TOL_TC = TOL_MI = 0.03
TOL_H = TOL_KL = 0.05


def _report(label: str, errors: list[float], extra: str = "") -> float:
    e = np.asarray(errors)
    print(
        f"\n{label}: mean error {e.mean():+.4f}, per-seed sd {e.std(ddof=1):.4f}, "
        f"range [{e.min():+.4f}, {e.max():+.4f}], per seed {np.round(e, 4).tolist()}{extra}"
    )
    return float(e.mean())


def _sweep(d: int, nongaussian: bool) -> None:
    tc, h, mi, oracle_tc, oracle_h = [], [], [], [], []
    for seed in range(N_SEEDS):
        case = make_case(d, seed, nongaussian=nongaussian)
        tc.append(gf.total_correlation(case.X) - case.tc)
        h.append(gf.entropy(case.X) - case.entropy)
        mi.append(gf.mutual_information(case.X[:, : case.split], case.X[:, case.split :]) - case.mi)
        o_tc, o_h = oracle_errors(case)
        oracle_tc.append(o_tc)
        oracle_h.append(o_h)
    kind = "non-Gaussian" if nongaussian else "Gaussian"
    oracle = "; oracle (knows the maps and the Gaussian latent) mean error {:+.4f}"
    mean_tc = _report(f"TC  d={d} {kind}", tc, oracle.format(np.mean(oracle_tc)))
    mean_mi = _report(f"MI  d={d} {kind}", mi)
    mean_h = _report(f"H   d={d} {kind}", h, oracle.format(np.mean(oracle_h)))
    assert abs(mean_tc) <= TOL_TC
    assert abs(mean_mi) <= TOL_MI
    assert abs(mean_h) <= TOL_H


@pytest.mark.slow
def test_information_nongaussian_d5():
    """Representative default-run case: every monotone map appears, d = 5."""
    _sweep(5, nongaussian=True)


def test_information_gaussian_d2():
    _sweep(2, nongaussian=False)


@pytest.mark.slow
@pytest.mark.parametrize("nongaussian", [False, True])
@pytest.mark.parametrize("d", [2, 5, 10])
def test_information_sweep(d, nongaussian):
    _sweep(d, nongaussian)


def _kl_sweep(d: int) -> None:
    errors = []
    for seed in range(N_SEEDS):
        X, Y, truth = make_kl_case(d, seed)
        errors.append(gf.kl_divergence(X, Y) - truth)
    assert abs(_report(f"KL  d={d} Gaussians", errors)) <= TOL_KL


def test_kl_gaussians_d2():
    _kl_sweep(2)


@pytest.mark.slow
@pytest.mark.parametrize("d", [5, 10])
def test_kl_gaussians_sweep(d):
    _kl_sweep(d)


def test_monotone_maps_leave_tc_and_mi_unchanged():
    case = make_case(3, 0, nongaussian=False)
    warped = np.column_stack([np.exp(case.X[:, 0]), case.X[:, 1] ** 3, np.sinh(case.X[:, 2])])
    assert gf.total_correlation(warped) == pytest.approx(gf.total_correlation(case.X), abs=1e-12)
    mi = gf.mutual_information(case.X[:, :1], case.X[:, 1:])
    assert gf.mutual_information(warped[:, :1], warped[:, 1:]) == pytest.approx(mi, abs=1e-12)


def test_scalar_pairs_and_independence():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(2, 2000))
    mi = gf.mutual_information(x, y)  # 1-D arrays are single columns
    assert abs(mi) < 0.01
    assert abs(gf.total_correlation(np.column_stack([x, y]))) < 0.01


def test_nongaussian_dependence_is_measured():
    """Dependence a correlation cannot see (y = x² + noise) shows up through the remainder."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=2000)
    y = x**2 + 0.3 * rng.normal(size=2000)
    mi = gf.mutual_information(x, y)
    # Truth H(y) − H(0.3ε) = 1.141 nats by quadrature; the Gaussian part alone is ≈ 0.
    print(f"\nMI(x; x² + 0.3ε) = {mi:.4f}, truth 1.1410")
    assert abs(mi - 1.141) < 0.2


def test_kl_nongaussian_uses_the_fitted_density():
    rng = np.random.default_rng(0)
    X = rng.standard_exponential((2000, 2))
    Y = 2.0 * rng.standard_exponential((2000, 2))
    truth = 2 * (np.log(2.0) + 0.5 - 1.0)  # KL(Exp(1) ‖ Exp(1/2)) per column
    auto = gf.kl_divergence(X, Y)
    gaussian_only = gf.kl_divergence(X, Y, method="gaussian")
    print(f"\nKL exponentials: auto {auto:.4f}, Gaussian-only {gaussian_only:.4f}, truth {truth:.4f}")
    assert abs(auto - truth) < 0.1
    assert abs(gaussian_only - truth) > 0.5  # the Gaussian part alone misses the shape of q


def test_entropy_scales_with_log_det():
    X = make_case(2, 0, nongaussian=False).X
    assert gf.entropy(3.0 * X) - gf.entropy(X) == pytest.approx(2 * np.log(3.0), abs=1e-9)


def test_one_dimensional_estimators_are_calibrated():
    mean, sd = negentropy_null(2000, 5)
    assert abs(mean) < 5e-3 and 0 < sd < 0.01
    assert logdet_bias(2000, 10) == pytest.approx(10 * 9 / (4 * 2000), rel=0.05)
    u = np.random.default_rng(1).uniform(size=(4000, 1))
    assert float(spacing_entropy(u, 5)[0]) == pytest.approx(0.0, abs=0.01)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: gf.entropy(np.full((100, 2), np.nan)), "NaN"),
        (lambda: gf.total_correlation(np.array([[1.0, np.inf]] * 50)), "inf"),
        (lambda: gf.entropy(np.random.default_rng(0).normal(size=(5, 2))), "rows"),
        (lambda: gf.mutual_information(np.ones((50, 1)).cumsum(0), np.ones((60, 1)).cumsum(0)), "same number of rows"),
        (lambda: gf.kl_divergence(np.random.default_rng(0).normal(size=(50, 2)), np.random.default_rng(1).normal(size=(50, 3))), "columns"),
        (lambda: gf.entropy(np.ones((100, 2))), "constant"),
        (lambda: gf.entropy(np.random.default_rng(0).normal(size=(100, 2)), settings=gf.InformationSettings(spacing=60)), "spacing"),
        (lambda: gf.kl_divergence(np.eye(30), np.eye(30), method="magic"), "method"),
        (lambda: gf.InformationSettings(threshold=-1), "threshold"),
        (lambda: gf.InformationSettings(spacing=0), "spacing"),
        (lambda: gf.InformationSettings(max_layers=0), "max_layers"),
        (lambda: gf.InformationSettings(patience=1.5), "patience"),
        (lambda: gf.InformationSettings(n_reference=1), "n_reference"),
        (lambda: gf.InformationSettings(random_state="one"), "random_state"),
    ],
)
def test_bad_input_raises(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.fixture(scope="module")
def small_sample():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, 2))
    return np.column_stack([np.exp(x[:, 0]), x[:, 0] + x[:, 1] ** 3])


def test_settings_object_carries_every_setting(small_sample):
    X, Y = small_sample, small_sample[::-1] * 2.0
    default = gf.InformationSettings()
    assert (default.spacing, default.max_layers, default.threshold, default.patience,
            default.n_reference, default.random_state) == (None, 50, 3.0, 3, 16, 0)
    assert gf.entropy(X) == gf.entropy(X, settings=default)
    other = gf.InformationSettings(spacing=4, max_layers=6, threshold=2.0, patience=2,
                                   n_reference=4, random_state=7)
    with pytest.raises(AttributeError):
        other.spacing = 5  # frozen
    for measure in (gf.total_correlation, gf.entropy):
        assert measure(X, settings=other) != measure(X)
    assert gf.kl_divergence(X, Y, method="flow", settings=other) != gf.kl_divergence(
        X, Y, method="flow"
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda X, **kw: gf.entropy(X, **kw),
        lambda X, **kw: gf.total_correlation(X, **kw),
        lambda X, **kw: gf.mutual_information(X[:, 0], X[:, 1], **kw),
        lambda X, **kw: gf.kl_divergence(X, X[::-1] * 2.0, method="flow", **kw),
    ],
)
def test_former_keywords_warn_and_give_the_same_numbers(small_sample, call):
    old = dict(spacing=4, max_blocks=6, threshold=2.0, patience=2, n_reference=4, random_state=7)
    settings = gf.InformationSettings(
        spacing=4, max_layers=6, threshold=2.0, patience=2, n_reference=4, random_state=7
    )
    with pytest.warns(DeprecationWarning, match="settings=InformationSettings"):
        value = call(small_sample, **old)
    assert value == call(small_sample, settings=settings)


def test_settings_and_former_keywords_do_not_mix(small_sample):
    with pytest.raises(TypeError, match="not both"):
        gf.entropy(small_sample, settings=gf.InformationSettings(), random_state=1)
    with pytest.raises(TypeError, match="unexpected keyword"):
        gf.entropy(small_sample, max_layers=4)
    with pytest.raises(TypeError, match="InformationSettings"):
        gf.entropy(small_sample, settings={"random_state": 1})


def test_numpy_integer_spacing_is_accepted():
    from gauss_flows._information.entropy1d import check_spacing

    assert check_spacing(np.int64(4), 100) == 4 and type(check_spacing(np.int64(4), 100)) is int
    for bad in (4.0, True, 50):
        with pytest.raises(ValueError, match="spacing"):
            check_spacing(bad, 100)
