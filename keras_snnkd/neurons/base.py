"""`SpikingNeuron`: the time loop, state and options shared by every neuron."""

import keras
from keras import ops

from keras_snnkd import backend, surrogates
from keras_snnkd.neurons import dynamics
from keras_snnkd.validation import (
    check_choice,
    check_float_dtype,
    check_number,
    check_time_major_shape,
)

# The unrolled loop passes its membrane through `backend.fusion_barrier` after
# every this many steps, so XLA does not recompute the chain from the input in
# every step's fusion (see `keras_snnkd.backend.xla_fusion`).
FUSION_BARRIER_EVERY = 4


def _step(layer, membrane, inputs):
    return layer.step(membrane, inputs)


# Wrapped once, at import (see `keras_snnkd.backend.reused_region`): torch.compile
# keys the compiled region by this function's code, shared by every neuron layer.
_STEP = backend.reused_region(_step)


class SpikingNeuron(keras.layers.Layer):
    """Base layer for spiking neurons over ``(batch, time, ...features)``.

    Subclasses define the charge (leak and integration) in `charge_function`; this
    class runs the loop over time, fires through the surrogate and resets.
    Every call starts from the resting state, so no state survives between
    calls (batches never leak into each other).

    Args:
        threshold: positive float, the firing threshold ``theta``.
        reset: ``"subtract"`` (soft reset, ``v -= theta`` after a spike),
            ``"zero"`` (hard reset to ``v_reset``) or ``"none"``.
        v_reset: the hard-reset potential; only with ``reset="zero"``, where
            it is also the resting and initial potential. Must be below
            ``threshold``.
        surrogate: a surrogate name, `keras_snnkd.surrogates.Surrogate` or
            callable (see `keras_snnkd.surrogates.get`).
        detach_reset: if True, no gradient flows through the reset.
        trainable_threshold: if True, ``theta`` is a trainable scalar weight
            initialised to ``threshold``.
        threshold_inclusive: fire on ``h >= theta`` (SpikingJelly) instead of
            ``h > theta`` (default, snnTorch).
        reset_delay: apply the reset one step late, decided by the previous
            membrane, as snnTorch does (see `keras_snnkd.neurons.dynamics`).
        return_membrane: if True, return ``(spikes, membrane)`` where
            ``membrane`` is the state after each step (post reset), shaped like
            the spikes.
        unroll: True unrolls the time loop (static ``T`` only), False uses
            `keras_snnkd.backend.scan`; None (default) unrolls when ``T`` is
            static and scans otherwise (unrolled training steps ran faster on
            every backend, up to ``T`` = 32; a scan compiles faster for long
            sequences).
        initial_membrane: the membrane potential ``v_0`` every call starts
            from; None (default) starts at the resting potential. ANN to SNN
            conversion starts at ``theta / 2`` (see `keras_snnkd.layers.StepReLU`).
        **kwargs: standard `keras.layers.Layer` arguments (name, dtype...).

    Call arguments:
        inputs: float tensor ``(batch, time, ...features)``: input currents.

    Returns:
        Spikes (0/1 in the compute dtype) with the shape of ``inputs``, or a
        tuple ``(spikes, membrane)`` when ``return_membrane=True`` (the membrane
        in the compute dtype too; under mixed precision it is computed in
        float32, see `state_dtype`).
    """

    def __init__(self, threshold=1.0, reset="subtract", v_reset=0.0,
                 surrogate="arctan", detach_reset=False, trainable_threshold=False,
                 threshold_inclusive=False, reset_delay=False,
                 return_membrane=False, unroll=None, initial_membrane=None, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.threshold = check_number(owner, "threshold", threshold, low=0)
        self.reset = check_choice(owner, "reset", reset, dynamics.RESETS)
        self.v_reset = check_number(owner, "v_reset", v_reset)
        if self.reset != "zero" and self.v_reset != 0.0:
            raise ValueError(
                f"{owner}: `v_reset` applies only to reset='zero'; got "
                f"v_reset={v_reset!r} with reset={reset!r}."
            )
        if self.v_reset >= self.threshold:
            raise ValueError(
                f"{owner}: `v_reset` must be below `threshold`; got "
                f"v_reset={v_reset!r}, threshold={threshold!r}."
            )
        if reset_delay and self.v_reset != 0.0:
            raise ValueError(
                f"{owner}: `reset_delay=True` (snnTorch order) resets to zero "
                f"only; got v_reset={v_reset!r}."
            )
        self.surrogate = surrogates.get(surrogate)
        for name, flag in (("detach_reset", detach_reset),
                           ("trainable_threshold", trainable_threshold),
                           ("threshold_inclusive", threshold_inclusive),
                           ("reset_delay", reset_delay),
                           ("return_membrane", return_membrane)):
            if not isinstance(flag, bool):
                raise TypeError(f"{owner}: `{name}` must be a bool, got {flag!r}.")
        if unroll is not None and not isinstance(unroll, bool):
            raise TypeError(f"{owner}: `unroll` must be None or a bool, got {unroll!r}.")
        self.detach_reset = detach_reset
        self.trainable_threshold = trainable_threshold
        self.threshold_inclusive = threshold_inclusive
        self.reset_delay = reset_delay
        self.return_membrane = return_membrane
        self.unroll = unroll
        self.initial_membrane = (
            None if initial_membrane is None
            else check_number(owner, "initial_membrane", initial_membrane)
        )
        self.threshold_weight = None

    # -- subclass hooks -------------------------------------------------
    def charge_function(self):
        """Returns the charge ``(v, x) -> h`` (leak and integration) for one call.

        Subclasses override this. `step` calls it at every time step, and
        calls the returned function once, on tensors in `state_dtype`.
        Keep it cheap: a constant it computes (e.g. a decay from a trainable
        weight) is computed again at every step.
        """
        raise NotImplementedError

    @property
    def resting_potential(self):
        """The potential the membrane starts at (and leaks to): ``v_reset``
        for a hard reset, 0 otherwise."""
        return self.v_reset if self.reset == "zero" else 0.0

    # -- Keras API ------------------------------------------------------
    def build(self, input_shape):
        check_time_major_shape(type(self).__name__, input_shape)
        if self.trainable_threshold:
            self.threshold_weight = self.add_weight(
                name="threshold",
                shape=(),
                initializer=keras.initializers.Constant(self.threshold),
                trainable=True,
            )

    def compute_output_shape(self, input_shape):
        return (input_shape, input_shape) if self.return_membrane else input_shape

    def compute_output_spec(self, inputs):
        check_float_dtype(type(self).__name__, inputs.dtype)
        check_time_major_shape(type(self).__name__, inputs.shape)
        spec = keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)
        if self.return_membrane:
            return spec, keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)
        return spec

    @property
    def state_dtype(self):
        """The dtype the membrane is kept and compared to the threshold in: float32
        when the compute dtype is float16 or bfloat16 (mixed precision), else the
        compute dtype.

        The membrane is a running sum over time, compared with the threshold at
        every step; in bfloat16 (8 significant bits) each step rounds it by up to
        0.4 %. So, as Keras's `BatchNormalization` does with its statistics, the
        layer casts its 16-bit inputs to float32, runs the loop there and returns
        spikes (exact in any dtype) in the compute dtype. XLA:CPU also runs a
        bfloat16 loop about 20 times slower than a float32 one (it rounds after
        every operation).
        """
        dtype = keras.backend.standardize_dtype(self.compute_dtype)
        return "float32" if dtype in ("float16", "bfloat16") else dtype

    def call(self, inputs):
        owner = type(self).__name__
        check_float_dtype(owner, inputs.dtype)
        check_time_major_shape(owner, inputs.shape)
        timesteps = inputs.shape[1]
        if self.unrolls(timesteps):
            spikes, membranes = self._unrolled(inputs, timesteps)
        else:
            spikes, membranes = self._scanned(inputs)
        if self.return_membrane:
            return spikes, ops.cast(membranes, inputs.dtype)
        return spikes

    def step(self, membrane, inputs):
        """Advances the neuron by one time step.

        `call` runs it at every step (through `keras_snnkd.backend.reused_region`,
        so ``torch.compile`` compiles it once, not ``T`` times).

        Args:
            membrane: the membrane potential after the previous step,
                ``(batch, ...features)``, in `state_dtype`.
            inputs: this step's input currents, same shape; cast to
                `state_dtype` for the step.

        Returns:
            ``(spikes, membrane)``: this step's 0/1 spikes in the dtype of
            ``inputs`` and the membrane after them in `state_dtype` (post reset;
            with ``reset_delay``, the membrane that was compared to the
            threshold).

        Example:
        >>> from keras import ops
        >>> from keras_snnkd.neurons import LIF
        >>> v = ops.zeros(3)
        >>> s, v = LIF(beta=0.5).step(v, ops.convert_to_tensor([0.5, 1.5, 2.5]))
        >>> ops.convert_to_numpy(s).tolist(), ops.convert_to_numpy(v).tolist()
        ([0.0, 1.0, 1.0], [0.5, 0.5, 1.5])
        """
        state_dtype = self.state_dtype
        threshold = (
            ops.cast(self.threshold_weight, state_dtype)
            if self.threshold_weight is not None
            else self.threshold
        )
        spikes, membrane = dynamics.neuron_step(
            self.charge_function(), ops.cast(inputs, state_dtype), membrane,
            threshold=threshold,
            surrogate=self.surrogate,
            reset=self.reset,
            v_reset=self.v_reset,
            detach_reset=self.detach_reset,
            inclusive=self.threshold_inclusive,
            reset_delay=self.reset_delay,
        )
        return ops.cast(spikes, inputs.dtype), membrane

    def unrolls(self, timesteps):
        """Whether `call` unrolls its time loop for ``timesteps`` steps (None:
        not static) or scans it; see the ``unroll`` argument."""
        if self.unroll is None:
            return timesteps is not None
        if self.unroll and timesteps is None:
            raise ValueError(
                f"{type(self).__name__}: `unroll=True` needs a static number of time "
                "steps; got inputs with no static time axis (axis 1)."
            )
        return self.unroll

    def _initial_state(self, x0):
        start = self.resting_potential if self.initial_membrane is None else self.initial_membrane
        dtype = self.state_dtype
        return (ops.zeros_like(x0, dtype=dtype) if start == 0.0
                else ops.full_like(x0, start, dtype=dtype))

    def _unrolled(self, inputs, timesteps):
        v = None
        spikes, membranes = [], []
        for t, x in enumerate(dynamics.time_steps(inputs, timesteps), start=1):
            if v is None:
                v = self._initial_state(x)
            s, v = _STEP(self, v, x)
            if t % FUSION_BARRIER_EVERY == 0 and t < timesteps:
                v = backend.fusion_barrier(v, s)
            spikes.append(s)
            if self.return_membrane:
                membranes.append(v)
        stack = lambda seq: ops.stack(seq, axis=1) if seq else None
        return stack(spikes), stack(membranes)

    def _scanned(self, inputs):
        xs = ops.moveaxis(inputs, 1, 0)

        def body(v, x):
            s, v = _STEP(self, v, x)
            return v, (s, v)

        _, (spikes, membranes) = backend.scan(body, self._initial_state(xs[0]), xs)
        spikes = ops.moveaxis(spikes, 0, 1)
        return spikes, ops.moveaxis(membranes, 0, 1) if self.return_membrane else None

    def get_config(self):
        config = super().get_config()
        config.update(
            threshold=self.threshold,
            reset=self.reset,
            v_reset=self.v_reset,
            surrogate=surrogates.serialize(self.surrogate),
            detach_reset=self.detach_reset,
            trainable_threshold=self.trainable_threshold,
            threshold_inclusive=self.threshold_inclusive,
            reset_delay=self.reset_delay,
            return_membrane=self.return_membrane,
            unroll=self.unroll,
            initial_membrane=self.initial_membrane,
        )
        return config
