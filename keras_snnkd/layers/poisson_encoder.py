"""`PoissonEncoder`: rate coding with Bernoulli spikes per step."""

import keras
from keras import ops

from keras_snnkd.validation import check_float_dtype, check_number, check_positive_int


@keras.saving.register_keras_serializable(package="keras_snnkd")
class PoissonEncoder(keras.layers.Layer):
    """Rate encoding: at each step a feature fires with probability ``gain * x``.

    ``s_t = 1[u_t < gain * x]`` with ``u_t ~ Uniform[0, 1)`` drawn
    independently per step and feature, so the expected firing rate is
    ``gain * x`` for ``gain * x`` in [0, 1]; a probability above 1 always fires
    and one below 0 never fires. Inputs are expected scaled to [0, 1].
    The draws come from a Keras ``SeedGenerator``: two encoders built with the
    same ``seed`` produce the same spike trains.

    Args:
        timesteps: number of time steps ``T`` (int >= 1).
        gain: positive scale applied to the input before sampling.
        seed: int seed for reproducible spikes, or None.

    Returns:
        0/1 spikes ``(batch, timesteps, ...features)`` in the compute dtype.

    Example:
    >>> import numpy as np, keras
    >>> from keras_snnkd.layers import PoissonEncoder
    >>> x = np.full((1, 1000), 0.25, "float32")
    >>> spikes = keras.ops.convert_to_numpy(PoissonEncoder(8, seed=0)(x))
    >>> spikes.shape, bool(abs(spikes.mean() - 0.25) < 0.02)
    ((1, 8, 1000), True)
    """

    def __init__(self, timesteps, gain=1.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.timesteps = check_positive_int(owner, "timesteps", timesteps)
        self.gain = check_number(owner, "gain", gain, low=0.0)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"{owner}: `seed` must be an int or None, got {seed!r}.")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.timesteps, *input_shape[1:])

    def call(self, inputs):
        check_float_dtype(type(self).__name__, inputs.dtype)
        shape = ops.shape(inputs)
        noise = keras.random.uniform(
            (shape[0], self.timesteps, *shape[1:]),
            dtype=inputs.dtype,
            seed=self.seed_generator,
        )
        probability = ops.expand_dims(inputs * self.gain, 1)
        return ops.cast(ops.less(noise, probability), inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "timesteps": self.timesteps,
                "gain": self.gain, "seed": self.seed}
