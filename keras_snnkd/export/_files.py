"""Atomic writes: a failed export never leaves a half-written file behind."""

import contextlib
import os
import tempfile


def output_path(owner, name, path):
    """Returns ``path`` as a str after checking its folder exists."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"{owner}: `{name}` must be a str or os.PathLike, got {path!r} of type "
            f"{type(path).__name__}."
        )
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"{owner}: the folder of `{name}` does not exist: {folder!r} (got "
            f"{name}={path!r})."
        )
    if os.path.isdir(path):
        raise IsADirectoryError(f"{owner}: `{name}` is a folder, expected a file path: {path!r}.")
    return path


def input_file(owner, name, path):
    """Returns ``path`` as a str after checking it is an existing file."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"{owner}: `{name}` must be a str or os.PathLike, got {path!r} of type "
            f"{type(path).__name__}."
        )
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{owner}: `{name}` is not an existing file: {path!r}.")
    return path


@contextlib.contextmanager
def atomic_outputs(*paths):
    """Yields temporary paths beside ``paths``; on success renames each onto its
    target, on any error deletes them and leaves the targets untouched."""
    temps = []
    try:
        for path in paths:
            folder, base = os.path.split(os.path.abspath(path))
            handle, temp = tempfile.mkstemp(prefix=f".{base}.", suffix=".part", dir=folder)
            os.close(handle)
            temps.append(temp)
        yield temps if len(temps) > 1 else temps[0]
        for temp, path in zip(temps, paths):
            os.replace(temp, path)
    finally:
        for temp in temps:
            if os.path.exists(temp):
                os.remove(temp)
