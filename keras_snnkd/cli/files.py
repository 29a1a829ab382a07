"""What the commands read: ``.keras`` models and datasets; checks of output paths."""

import os
import tempfile

import click
import keras
import numpy as np

from keras_snnkd import datasets
from keras_snnkd.cli.app import UserError

#: ``--data`` names: the two embedded datasets, then those read from local files.
DATASETS = {
    "mnist_subset": datasets.load_mnist_subset,
    "digits": datasets.load_digits,
    "mnist": datasets.load_mnist,
    "fashion_mnist": datasets.load_fashion_mnist,
    "cifar10": datasets.load_cifar10,
}
EMBEDDED = ("mnist_subset", "digits")


def data_options(command):
    """Adds ``--data``, ``--data-path`` and ``--limit`` to a command."""
    command = click.option(
        "--limit", type=click.IntRange(1), default=None,
        help="Use at most this many training and this many test images.")(command)
    command = click.option(
        "--data-path", type=click.Path(exists=True), default=None,
        help="Local file or folder of mnist / fashion_mnist / cifar10 (default: the Keras "
             "cache, ~/.keras/datasets).")(command)
    return click.option(
        "--data", type=click.Choice(list(DATASETS)), default="mnist_subset", show_default=True,
        help="Dataset: mnist_subset and digits ship with the install; the others are read "
             "from local files (nothing is downloaded).")(command)


def subset(x, y, count, seed=0):
    """``count`` samples drawn by a fixed permutation (all of them when ``count`` is None).

    Slicing would not do: the MNIST subset is sorted by class."""
    if count is None or count >= len(x):
        return x, y
    index = np.random.default_rng(seed).permutation(len(x))[:count]
    return x[index], y[index]


def load_data(name, path=None, limit=None, test_limit=None):
    """``(x_train, y_train), (x_test, y_test)`` of a ``--data`` name, with at most
    ``limit`` training and ``test_limit`` (default ``limit``) test images."""
    if path is not None and name in EMBEDDED:
        raise click.UsageError(f"--data-path is for mnist, fashion_mnist and cifar10; "
                               f"{name} is embedded.")
    loader = DATASETS[name]
    train, test = loader() if name in EMBEDDED else loader(path)
    return subset(*train, limit), subset(*test, limit if test_limit is None else test_limit)


def load_model(path, role):
    """Loads a ``.keras`` file (uncompiled); any failure is the user's file."""
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # noqa: BLE001  (corrupt zip, unknown class, wrong format...)
        raise UserError(f"cannot load the {role} from {path}: "
                        f"{type(error).__name__}: {error}") from error
    if not isinstance(model, keras.Model) or not getattr(model, "inputs", None):
        raise UserError(f"the {role} in {path} is not a built functional or Sequential "
                        "model with an input.")
    if isinstance(model, keras.Sequential):
        # Loading calls `add` once per layer and Keras rebuilds the graph each time,
        # so every layer ends up called many times; graph walkers (the cost
        # estimator) need each layer called once, as in a model built in one go.
        single = keras.models.clone_model(model)
        single.set_weights(model.get_weights())
        model = single
    return model


def check_input(model, x, role, data):
    """Raises a `UserError` when ``x`` (a dataset's images) does not fit ``model``."""
    expected = tuple(model.inputs[0].shape[1:])
    if len(expected) != x.ndim - 1 or any(e not in (None, g)
                                          for e, g in zip(expected, x.shape[1:])):
        raise UserError(f"the {role} takes inputs of shape {expected} but --data {data} has "
                        f"images of shape {tuple(x.shape[1:])}.")


def check_output(path, option):
    """Fails early (before any work) when ``path`` cannot be written."""
    if path is None:
        return None
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise click.BadParameter(f"the folder {folder} does not exist.",
                                 param_hint=f"'{option}'")
    if os.path.isdir(path):
        raise click.BadParameter(f"{path} is a folder; give a file path.",
                                 param_hint=f"'{option}'")
    return path


def accuracy(model, x, y, batch_size=256):
    """Top-1 accuracy of a logits model on ``(x, y)``."""
    logits = model.predict(x, batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(logits, axis=-1) == y))


def save_model(model, path):
    """``model.save(path)`` written atomically (a failure leaves ``path`` as it was)."""
    folder = os.path.dirname(os.path.abspath(path))
    handle, temp = tempfile.mkstemp(prefix=".snnkd-", suffix=".keras", dir=folder)
    os.close(handle)
    try:
        model.save(temp)
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)
    return path
