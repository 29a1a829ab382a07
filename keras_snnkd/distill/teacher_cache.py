"""`cache_teacher`: the teacher's outputs computed once for a fixed dataset."""

from keras_snnkd.distill.distiller import Distiller
from keras_snnkd.validation import check_positive_int


def cache_teacher(distiller, x, batch_size=256, verbose=0):
    """Runs the teacher once over ``x`` and returns inputs that carry its outputs.

    The result is a dict ``{"inputs": x, "teacher": outputs}`` that
    ``distiller.fit`` (and ``evaluate``/``predict``) accept in place of ``x``:
    rows stay aligned through batching and shuffling, and each step reads the
    teacher's output and features from the batch instead of running the
    teacher, so epochs cost only the student. Valid while the inputs are fixed:
    no augmentation, and a teacher with a random encoder (e.g. Poisson) is
    frozen to one draw.

    Args:
        distiller: the `Distiller` whose teacher outputs and features to cache.
        x: the whole input array (numpy or tensor), as given to ``fit``.
        batch_size: batch size of the teacher's forward passes.
        verbose: progress bar of the forward pass (0: none).

    Returns:
        ``{"inputs": x, "teacher": {key: array}}``.

    Example:
    >>> import numpy as np
    >>> from keras_snnkd import models
    >>> from keras_snnkd.distill import Distiller, ResponseKD, cache_teacher
    >>> teacher = models.reference_ann(input_shape=(8, 8, 1))
    >>> student = models.dense_snn(timesteps=2, input_shape=(8, 8, 1), hidden=(16,))
    >>> distiller = Distiller(teacher, student, [ResponseKD()])
    >>> distiller.compile("adam")
    >>> x = np.random.rand(32, 8, 8, 1).astype("float32")
    >>> cached = cache_teacher(distiller, x)
    >>> history = distiller.fit(cached, epochs=1, batch_size=16, verbose=0)  # no teacher pass
    >>> sorted(history.history)
    ['loss', 'response_kd']
    """
    if not isinstance(distiller, Distiller):
        raise TypeError(
            f"cache_teacher: `distiller` must be a keras_snnkd.distill.Distiller, got "
            f"{type(distiller).__name__}."
        )
    if isinstance(x, dict) and set(x) == {"inputs", "teacher"}:
        raise ValueError("cache_teacher: `x` already holds cached teacher outputs.")
    if not hasattr(x, "shape") or len(x.shape) < 1:
        raise TypeError(
            "cache_teacher: `x` must be the whole dataset as one array (numpy or "
            f"tensor) so the cache stays aligned with it; got {type(x).__name__}. "
            "Datasets and generators may augment or reorder their data: cache only "
            "fixed arrays."
        )
    batch_size = check_positive_int("cache_teacher", "batch_size", batch_size)
    outputs = distiller.teacher_features.predict(x, batch_size=batch_size, verbose=verbose)
    return {"inputs": x, "teacher": outputs}
