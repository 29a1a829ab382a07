"""`TerminateOnNaNTerm`: stops training on a NaN loss and names the term."""

import math

import keras


class TerminateOnNaNTerm(keras.callbacks.TerminateOnNaN):
    """`keras.callbacks.TerminateOnNaN` that says which loss term went bad.

    After every training batch it checks each term the model logs (for a
    `Distiller`: ``student_loss`` and every distillation term, then the total
    ``loss``; for other models: ``loss``). On the first NaN or Inf it prints
    which terms failed and sets ``model.stop_training`` (or raises
    ``RuntimeError`` with ``raise_error=True``). The first failed term and the
    batch stay in ``term`` and ``batch``. `Distiller.fit` adds one
    automatically.

    Args:
        raise_error: raise instead of stopping gracefully.

    Example:
    >>> import keras, numpy as np
    >>> from keras_snnkd.distill import TerminateOnNaNTerm
    >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> guard = TerminateOnNaNTerm()
    >>> _ = model.fit(np.ones((4, 1)), np.full((4, 1), np.nan), batch_size=2, epochs=3,
    ...               callbacks=[guard], verbose=0)
    Batch 0: loss term 'loss' is nan; terminating training.
    >>> guard.term, guard.batch
    ('loss', 0)
    """

    def __init__(self, raise_error=False):
        super().__init__(raise_error=raise_error)
        self.term = None
        self.batch = None

    def on_batch_end(self, batch, logs=None):
        logs = logs or {}
        terms = [name for name in getattr(self.model, "loss_term_names", ()) if name in logs]
        values = {name: float(keras.ops.convert_to_numpy(logs[name]))
                  for name in [*terms, "loss"] if name in logs}
        bad = [name for name, value in values.items() if not math.isfinite(value)]
        if not bad:
            return
        self.term, self.batch = bad[0], batch
        bad_terms = [name for name in bad if name != "loss"] or ["loss"]
        if len(bad_terms) == 1:
            message = f"Batch {batch}: loss term {bad_terms[0]!r} is {values[bad_terms[0]]}"
        else:
            listed = ", ".join(f"{name!r} ({values[name]})" for name in bad_terms)
            message = f"Batch {batch}: loss terms {listed} are not finite"
        if bad_terms != ["loss"]:
            message += f" (total loss {values.get('loss')})"
        if len(terms) > 1 and set(terms) <= set(bad):
            message += ("; every term at once usually means the weights became non-finite "
                        "after a bad gradient step")
        message += "; terminating training."
        if self.raise_error:
            raise RuntimeError(message)
        print(message)
        self.model.stop_training = True
