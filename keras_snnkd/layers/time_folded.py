"""`TimeFolded`: runs a stateless layer over all time steps, folded into the batch."""

import inspect

import keras
from keras import ops

from keras_snnkd import backend
from keras_snnkd.layers.tiled_pooling import tiled_average_pool, tiles
from keras_snnkd.validation import check_positive_int, check_time_major_shape

# Layers whose output for one sample depends on that sample alone, so running them
# on a few time steps at a time gives what one run over all steps gives. Not
# BatchNormalization (its training statistics span the whole folded batch), nor
# any layer not named here.
_PER_SAMPLE_LAYERS = tuple(getattr(keras.layers, name) for name in (
    "Dense", "EinsumDense", "Flatten", "Reshape", "Activation", "ReLU", "LeakyReLU",
    "Dropout", "LayerNormalization",
    *(f"{kind}{d}D" for kind in ("Conv", "AveragePooling", "MaxPooling",
                                 "GlobalAveragePooling", "GlobalMaxPooling")
      for d in (1, 2, 3)),
    *(f"Conv{d}DTranspose" for d in (1, 2, 3)),
    "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
))


@keras.saving.register_keras_serializable(package="keras_snnkd")
class TimeFolded(keras.layers.Wrapper):
    """Applies a stateless layer to ``(batch, time, ...)`` by folding time into batch.

    The input is reshaped to ``(batch * time, ...)``, the wrapped layer runs on
    it (one large Conv/Dense/Pool instead of ``T`` small ones), and the result is
    reshaped back to ``(batch, time, ...)``. Use it for layers with no state
    across time: Dense, Conv, Pooling, Flatten, Dropout and BatchNormalization
    (whose statistics are then taken over batch and time, like SpikingJelly's
    ``SeqToANNContainer``).

    Long sequences are folded at most ``fold_steps`` time steps at a time: the
    layer runs once per chunk of steps (``ceil(T / fold_steps)`` chunks, as
    equal as ``T`` allows), on ``(batch * chunk, ...)``, and the chunks are
    joined. The smaller working sets ran faster under XLA on a CPU: the
    reference network's training step at ``T`` = 32 took 13 % (TensorFlow) and
    16 % (JAX) less time with 4 than with all 32 steps in one fold. Under
    ``torch.compile`` chunks of 4 made it slower (``T`` = 8: 14 %), so the
    default, ``"auto"``, is 4 on TensorFlow and JAX and all steps at once on
    PyTorch (`keras_snnkd.backend.fold_steps`). The result is the same
    up to float32 summation order (the kernel's gradient is summed chunk by
    chunk). Only layers whose output for a sample depends on that sample alone
    are chunked (Dense, EinsumDense, convolutions, pooling, Flatten, Reshape,
    activations, Dropout, LayerNormalization), and none with an activity
    regularizer; every other layer, BatchNormalization included, sees all steps
    in one fold.

    On PyTorch, average pooling whose windows tile its input
    (``padding="valid"``, ``strides == pool_size``) runs as a reshape and a
    mean (`keras_snnkd.layers.tiled_pooling`, `keras_snnkd.backend.pools_as_mean`):
    the same values, but the backward pass no longer keeps the pooled spikes
    (reference network: 48 against 85 MB saved for it at T = 4, 371 against 665
    MB at T = 32, where the training step took 18 % less time).

    Args:
        layer: a `keras.layers.Layer` instance.
        fold_steps: positive int, the most time steps folded into one call of
            ``layer``; None to fold all of them at once; or ``"auto"``
            (default): the running backend's choice, resolved at each call, so
            a saved model folds as suits the backend that loads it.

    Returns:
        ``(batch, time, ...layer output features)``.

    Example:
    >>> import numpy as np, keras
    >>> from keras_snnkd.layers import TimeFolded
    >>> tuple(TimeFolded(keras.layers.Dense(3))(np.zeros((2, 4, 5), "float32")).shape)
    (2, 4, 3)
    >>> TimeFolded(keras.layers.Dense(3), fold_steps=4).chunk_sizes(10)
    [4, 3, 3]
    """

    def __init__(self, layer, fold_steps="auto", **kwargs):
        owner = type(self).__name__
        if not isinstance(layer, keras.layers.Layer):
            raise TypeError(
                f"{owner}: `layer` must be a keras.layers.Layer instance, got "
                f"{layer!r} of type {type(layer).__name__}."
            )
        if fold_steps is not None and fold_steps != "auto":
            if isinstance(fold_steps, str):
                raise ValueError(f"{owner}: `fold_steps` must be a positive int, None or "
                                 f'"auto"; got {fold_steps!r}.')
            check_positive_int(owner, "fold_steps", fold_steps)
        super().__init__(layer, **kwargs)
        self.fold_steps = fold_steps
        self._pass_training = "training" in inspect.signature(layer.call).parameters

    def _folded_shape(self, input_shape):
        check_time_major_shape(type(self).__name__, input_shape)
        if 0 in input_shape[2:]:  # folding reshapes to (-1, ...features): ambiguous then
            raise ValueError(
                f"{type(self).__name__}: the feature axes of `inputs` must be non-empty; "
                f"got shape {tuple(input_shape)}."
            )
        batch, time = input_shape[0], input_shape[1]
        folded = None if batch is None or time is None else batch * time
        return (folded, *input_shape[2:])

    def build(self, input_shape):
        # A symbolic call builds the layer if it is not built yet, and opens its name
        # scope, as Keras does at any layer's first call. Layers without weights
        # (pooling, Flatten) are built when made; left to the first real call, that
        # call would change them, and under torch.compile the change fails a guard,
        # so the training step compiled a second time at its second call.
        self.layer(keras.KerasTensor(self._folded_shape(input_shape), dtype=self.compute_dtype))
        self.built = True

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape(self._folded_shape(input_shape))
        return (input_shape[0], input_shape[1], *inner[1:])

    def chunk_sizes(self, timesteps):
        """How many time steps each call of the layer folds, for ``timesteps``
        steps (None: not static): ``ceil(timesteps / fold_steps)`` chunks as
        equal as they divide, largest first, or one chunk of all steps
        (``fold_steps="auto"``: the running backend's value).

        Args:
            timesteps: the static length of the time axis, or None.

        Returns:
            A list of ints that sum to ``timesteps``, or ``[timesteps]``.
        """
        layer = self.layer
        fold_steps = backend.fold_steps() if self.fold_steps == "auto" else self.fold_steps
        if (fold_steps is None or timesteps is None or timesteps <= fold_steps
                or not isinstance(layer, _PER_SAMPLE_LAYERS)
                or layer.activity_regularizer is not None):
            return [timesteps]
        chunks = -(-timesteps // fold_steps)
        size, larger = divmod(timesteps, chunks)
        return [size + 1] * larger + [size] * (chunks - larger)

    def _fold(self, inputs, kwargs):
        time = inputs.shape[1] if inputs.shape[1] is not None else ops.shape(inputs)[1]
        folded = ops.reshape(inputs, (-1, *inputs.shape[2:]))
        if backend.pools_as_mean() and tiles(self.layer, folded):
            outputs = tiled_average_pool(self.layer, folded)
        else:
            outputs = self.layer(folded, **kwargs)
        return ops.reshape(outputs, (-1, time, *outputs.shape[1:]))

    def call(self, inputs, training=None):
        kwargs = {"training": training} if self._pass_training else {}
        sizes = self.chunk_sizes(inputs.shape[1])
        if len(sizes) == 1:
            return self._fold(inputs, kwargs)
        # array_split, not split at a list of indices: Keras's torch split turns
        # indices into a tensor and back to a list, a graph break under torch.compile.
        chunks = ops.array_split(inputs, len(sizes), axis=1)
        return ops.concatenate([self._fold(chunk, kwargs) for chunk in chunks], axis=1)

    def get_config(self):
        config = super().get_config()
        config["fold_steps"] = self.fold_steps
        return config
