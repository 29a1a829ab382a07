"""`distill_chain`: multi-stage distillation through assistant networks."""

import keras

from keras_snnkd.distill.distiller import Distiller
from keras_snnkd.distill.teacher_cache import cache_teacher


def _fresh(obj):
    """A new, unbuilt copy of a Keras object (strings pass through)."""
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, (list, tuple)):
        return [_fresh(item) for item in obj]
    return keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(obj))


def distill_chain(models, x, y=None, *, losses, loss_weights=None, student_loss_weight=1.0,
                  optimizer="adam", loss=None, metrics=None, use_teacher_cache=False,
                  **fit_kwargs):
    """Distils ``models[0] -> models[1] -> ... -> models[-1]``, one `fit` per stage.

    Teacher-assistant distillation (Mirzadeh et al., 2020): a large teacher
    first teaches a mid-sized assistant, which then teaches the small student;
    the gap bridged at each stage is smaller. Stage ``i`` is an ordinary
    `Distiller` with ``models[i]`` as the (frozen) teacher and
    ``models[i + 1]`` as the student, trained in place; every stage gets fresh
    copies of ``losses``, ``optimizer``, ``loss`` and ``metrics``.

    Args:
        models: the trained teacher, then the assistants, then the student
            (at least two models).
        x, y: training data, passed to every stage's `fit`.
        losses: distillation losses (cloned for each stage), or a callable
            ``stage -> list of losses`` when stages need different layer names.
        loss_weights, student_loss_weight: as in `Distiller`.
        optimizer, loss, metrics: as in `Distiller.compile`.
        use_teacher_cache: precompute each stage's teacher outputs with
            `cache_teacher` (only for fixed array inputs).
        **fit_kwargs: passed to every `fit` (epochs, batch_size,
            validation_data, callbacks...).

    Returns:
        A list with one `keras.callbacks.History` per stage.

    Example:
    >>> import numpy as np
    >>> from keras_snnkd import models
    >>> from keras_snnkd.distill import ResponseKD, distill_chain
    >>> teacher = models.reference_ann(input_shape=(8, 8, 1))
    >>> assistant = models.dense_snn(timesteps=2, input_shape=(8, 8, 1), hidden=(32,))
    >>> student = models.dense_snn(timesteps=2, input_shape=(8, 8, 1), hidden=(8,))
    >>> x = np.random.rand(32, 8, 8, 1).astype("float32")
    >>> histories = distill_chain([teacher, assistant, student], x, losses=[ResponseKD()],
    ...                           epochs=1, batch_size=16, verbose=0)
    >>> [sorted(h.history) for h in histories]
    [['loss', 'response_kd'], ['loss', 'response_kd']]
    """
    if not isinstance(models, (list, tuple)) or len(models) < 2:
        raise ValueError(
            "distill_chain: `models` must list a teacher and at least one student "
            f"(two models or more); got {models!r}."
        )
    configs = None if callable(losses) else [
        keras.saving.serialize_keras_object(item)
        for item in (losses if isinstance(losses, (list, tuple)) else [losses])
    ]
    histories = []
    for stage, (teacher, student) in enumerate(zip(models[:-1], models[1:])):
        stage_losses = (losses(stage) if configs is None
                        else [keras.saving.deserialize_keras_object(c) for c in configs])
        distiller = Distiller(teacher, student, stage_losses, loss_weights=loss_weights,
                              student_loss_weight=student_loss_weight,
                              name=f"distiller_stage_{stage}")
        distiller.compile(optimizer=_fresh(optimizer), loss=_fresh(loss),
                          metrics=_fresh(metrics))
        inputs = cache_teacher(distiller, x) if use_teacher_cache else x
        histories.append(distiller.fit(inputs, y, **fit_kwargs))
    return histories
