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


def read_tflite(owner, name, path):
    """``(path, blob, model)``: a ``.tflite`` file's bytes and its parsed
    ``schema.ModelT``, after checking it is an existing, whole TFLite flatbuffer.

    Raises:
        ValueError: the file is empty, is not a TFLite flatbuffer (no ``TFL3``
            identifier) or is truncated/corrupt (its tables point past its end).
    """
    from ai_edge_litert import schema_py_generated as schema

    path = input_file(owner, name, path)
    with open(path, "rb") as handle:
        blob = handle.read()
    if len(blob) < 8 or blob[4:8] != b"TFL3":
        raise ValueError(
            f"{owner}: `{name}` is not a TFLite flatbuffer (no TFL3 identifier in its "
            f"first 8 bytes; {len(blob)} bytes): {path!r}."
        )
    try:
        model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(blob, 0))
    except Exception as error:  # noqa: BLE001  (struct.error, IndexError... on a torn file)
        raise ValueError(
            f"{owner}: `{name}` is a truncated or corrupt .tflite file ({len(blob)} bytes; "
            f"{type(error).__name__}: {error}): {path!r}."
        ) from None
    return path, blob, model


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
