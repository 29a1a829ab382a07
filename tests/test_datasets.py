import gzip
import os
import pickle

import numpy as np
import pytest

from keras_snnkd import datasets


def test_mnist_subset_split_is_fixed_and_stratified():
    (x_train, y_train), (x_test, y_test) = datasets.load_mnist_subset()
    assert x_train.shape == (4000, 28, 28, 1) and x_test.shape == (1000, 28, 28, 1)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert 0.0 == x_train.min() and x_train.max() == 1.0
    assert np.bincount(y_test).tolist() == [100] * 10
    (x_again, _), (x_test_again, y_test_again) = datasets.load_mnist_subset()
    np.testing.assert_array_equal(x_test, x_test_again)
    np.testing.assert_array_equal(y_test, y_test_again)
    # no test image is also a training image
    train_rows = {row.tobytes() for row in x_train.reshape(len(x_train), -1)}
    assert not any(row.tobytes() in train_rows for row in x_test.reshape(len(x_test), -1))


def test_digits():
    (x_train, y_train), (x_test, y_test) = datasets.load_digits()
    assert x_train.shape == (1437, 8, 8, 1) and x_test.shape == (360, 8, 8, 1)
    assert x_train.max() == 1.0 and np.bincount(y_test).tolist() == [36] * 10


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    os.makedirs(tmp_path / "datasets")
    return tmp_path / "datasets"


def fake_split(rng, n, shape):
    return rng.integers(0, 256, size=(n, *shape), dtype=np.uint8), rng.integers(0, 10, size=n)


def test_missing_files_name_the_expected_paths(keras_home):
    for loader, expected in [(datasets.load_mnist, "mnist.npz"),
                             (datasets.load_fashion_mnist, "fashion-mnist"),
                             (datasets.load_cifar10, "cifar-10-batches-py")]:
        with pytest.raises(FileNotFoundError, match="never downloads") as info:
            loader()
        assert str(keras_home / expected) in str(info.value)
    with pytest.raises(FileNotFoundError, match="/nowhere/x.npz"):
        datasets.load_mnist(path="/nowhere/x.npz")


def test_mnist_npz_in_keras_cache(keras_home, rng):
    x_train, y_train = fake_split(rng, 20, (28, 28))
    x_test, y_test = fake_split(rng, 5, (28, 28))
    np.savez(keras_home / "mnist.npz", x_train=x_train, y_train=y_train,
             x_test=x_test, y_test=y_test)
    (a, b), (c, d) = datasets.load_mnist()
    assert a.shape == (20, 28, 28, 1) and a.dtype == np.float32
    np.testing.assert_allclose(a[..., 0], x_train / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(d, y_test)


def test_npz_with_missing_arrays_is_rejected(tmp_path):
    np.savez(tmp_path / "bad.npz", x_train=np.zeros((1, 2, 2)))
    with pytest.raises(ValueError, match="missing .*y_train"):
        datasets.load_mnist(path=tmp_path / "bad.npz")


def write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_keras_layout(keras_home, rng):
    folder = keras_home / "fashion-mnist"
    os.makedirs(folder)
    x_train, y_train = fake_split(rng, 12, (28, 28))
    x_test, y_test = fake_split(rng, 4, (28, 28))
    write_idx(folder / "train-images-idx3-ubyte.gz", x_train)
    write_idx(folder / "train-labels-idx1-ubyte.gz", y_train)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", x_test)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", y_test)
    (a, b), (c, d) = datasets.load_fashion_mnist()
    np.testing.assert_allclose(c[..., 0] * 255.0, x_test, atol=1e-4)
    np.testing.assert_array_equal(b, y_train)


def test_cifar10_keras_layout(keras_home, rng):
    folder = keras_home / "cifar-10-batches-py"
    os.makedirs(folder)
    images = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        x, y = fake_split(rng, 3, (3 * 32 * 32,))
        images[name] = x
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": x, b"labels": list(y)}, f)
    (a, b), (c, d) = datasets.load_cifar10()
    assert a.shape == (15, 32, 32, 3) and c.shape == (3, 32, 32, 3)
    # channel-first rows become channels-last images
    np.testing.assert_allclose(c[0, :, :, 1] * 255.0,
                               images["test_batch"][0, 1024:2048].reshape(32, 32), atol=1e-4)
