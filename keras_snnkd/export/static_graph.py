"""`StaticGraph`: an `ExportPlan` as TensorFlow functions with int8-exact spikes.

Time is unrolled, weights are constants and neuron state is one tensor per
step, so the TFLite converter sees a plain feed-forward graph.

**Shifted membrane.** Each neuron carries ``u = h - theta + eps`` instead of
``h``: the spike is then ``H(u)`` (the sign of a tensor whose zero is exactly
representable in int8), and ``-theta`` plus the step constants fold into the
bias of the Dense/Conv2D that feeds the neuron. With ``w`` the membrane after
the reset (same offset) and ``c`` the reset amount::

    u_0 = alpha * x_0 + (beta * v_init + gamma - theta + eps)
    s_t = H(u_t)
    w_t = u_t - c * s_t                 (soft reset, c = theta; theta / beta
                                         in snnTorch's delayed order)
        = min(u_t, 0) - c * s_t         (hard reset, c = theta - v_reset - eps)
    u_t = beta * w_{t-1} + alpha * x_t + (gamma + (beta - 1) * theta + (1 - beta) * eps)

which is the neuron of `keras_snnkd.export._ops.Neuron` rewritten, not an
approximation. Spike tensors hold ``c * s`` (weights downstream are divided
by ``c``).

**int8 form.** With the per-layer membrane scale ``q`` (from calibration,
adjusted so ``c / q`` is an integer) and ``eps = q / 2``:

- ``u`` and ``w`` share one int8 grid; ``beta * w`` is stored on the grid
  scaled by ``beta`` (exact), the reset subtraction is exact;
- the spike is ``MUL(u, c / q)`` with a fused ReLU into a tensor of range
  ``[0, c]``: one int8 step of ``u`` above zero saturates to exactly ``c``,
  zero or below gives exactly 0 (the MUL's scale ratio is 255/127, well
  inside every kernel's limits);
- the spike counts of the last layer are summed on grids that hold the
  integers exactly, and the (linear) layers after the last neuron run once
  on that sum.

So the only rounding left is in the Dense/Conv2D outputs and in one ADD per
neuron and step; ``H(u)`` itself is decided exactly on the rounded sum.
Ranges are set with fake-quant ops (``tf.quantization.fake_quant_with_min_max_args``),
which the TFLite converter turns into the tensors' int8 parameters; all
other tensors are calibrated by the converter from the representative data.
"""

import dataclasses
import math

import numpy as np
import tensorflow as tf

from keras_snnkd.export import _ops
from keras_snnkd.export.plan import ExportPlan


@dataclasses.dataclass
class _Grid:
    """An int8 grid: ``value = scale * (q - zero_point)``, q in [-128, 127]."""

    scale: float
    zero_point: int

    @classmethod
    def covering(cls, low, high, scale):
        low, high = min(low, 0.0), max(high, 0.0)
        zero_point = int(np.clip(-128 - round(low / scale), -128, 127))
        return cls(scale, zero_point)

    @property
    def low(self):
        return (-128 - self.zero_point) * self.scale

    @property
    def high(self):
        return (127 - self.zero_point) * self.scale

    def scaled(self, factor):
        return _Grid(self.scale * factor, self.zero_point)


@dataclasses.dataclass
class _NeuronForm:
    """Per-neuron constants of the shifted form (see the module docstring)."""

    op: _ops.Neuron
    unit: float  # c: a spike is stored as c
    hard: bool
    eps: float = 0.0
    grid: _Grid = None  # membrane grid (int8 form only)


def _form(op, eps=0.0, grid=None):
    if op.reset == "none":
        return _NeuronForm(op, 1.0, False, eps, grid)
    if op.reset == "zero":
        return _NeuronForm(op, op.threshold - op.v_reset - eps, True, eps, grid)
    if op.reset_delay:
        if op.beta == 0.0:
            raise ValueError(
                f"to_tflite: neuron {op.name!r} uses snnTorch's delayed reset with "
                "beta=0, which has no shifted form; use beta > 0."
            )
        return _NeuronForm(op, op.threshold / op.beta, False, eps, grid)
    return _NeuronForm(op, op.threshold, False, eps, grid)


def _membrane_grid(op, low, high):
    """The int8 grid of a neuron's membrane: covers [low, high] (+ half a step)
    with ``c / scale`` an integer so the reset subtraction is exact."""
    width = max(max(high, 0.0) - min(low, 0.0), 1e-6)
    scale = width / 255.0
    if op.reset == "zero":
        amount = op.threshold - op.v_reset  # c = amount - scale / 2
        n = math.floor(amount / scale - 0.5)
        if n >= 1:
            scale = amount / (n + 0.5)
    elif op.reset == "subtract":
        amount = _form(op).unit
        n = math.floor(amount / scale)
        if n >= 1:
            scale = amount / n
    eps = scale / 2.0
    return _Grid.covering(low + eps, high + eps, scale), eps


def _quantized_form(op, low, high):
    grid, eps = _membrane_grid(op, float(low), float(high))
    return _form(op, eps, grid)


def _fake_quant(x, grid):
    return tf.quantization.fake_quant_with_min_max_args(
        x, min=grid.low, max=grid.high, num_bits=8, narrow_range=False)


SCOPE = "{name}_t{t}"
"""Name scope of neuron ``name`` at step ``t``; in the int8 TFLite graph its spike
tensor is the fused ``MUL``+``RELU`` output, named ``{name}_t{t}/Relu;...``."""

CLIP_QUANTILES = (0.0, 1e-3, 1e-2, 3e-2)
"""Quantiles at which `StaticGraph.calibrate` may clip a membrane range."""


def _count_grid(unit, count, pool_area):
    """A grid holding 0, unit, ..., count * unit exactly (and 1/pool_area of them)."""
    steps = 255 // count
    if steps >= pool_area:
        steps -= steps % pool_area
    return _Grid(unit / steps, -128)


class StaticGraph:
    """Runs an `ExportPlan` as TensorFlow functions ready for the TFLite converter.

    Args:
        plan: an `ExportPlan`.

    Three forms, all batch-agnostic (the exporter fixes batch 1):

    - `float_function`: float32, exact Heaviside spikes (``cast(u > 0)``);
      equals the Keras model up to float rounding.
    - `calibrate`: runs the float form on representative data and records
      the range of every neuron's membrane; needed by `int8_function`.
    - `int8_function`: the int8 form (module docstring) with fake-quant ranges.

    Example:
    >>> import numpy as np, keras
    >>> from keras_snnkd.models import dense_snn
    >>> from keras_snnkd.export import ExportPlan, StaticGraph
    >>> model = dense_snn(timesteps=3, input_shape=(8, 8, 1), hidden=(16,))
    >>> graph = StaticGraph(ExportPlan.from_model(model))
    >>> x = np.random.default_rng(0).random((4, 8, 8, 1)).astype("float32")
    >>> y = graph.float_function()(x).numpy()
    >>> bool(np.allclose(y, model.predict(x, verbose=0), atol=1e-5))
    True
    """

    def __init__(self, plan):
        if not isinstance(plan, ExportPlan):
            raise TypeError(
                f"StaticGraph: `plan` must be an ExportPlan, got {type(plan).__name__}.")
        self.plan = plan
        self.forms = None

    # -- public ---------------------------------------------------------
    def float_function(self):
        """A `tf.function` mapping ``(batch, *input_shape)`` to the outputs."""
        forms = [_form(op) for op in self.plan.neurons]
        return tf.function(lambda x: self._forward(x, forms, quantized=False)[0])

    def calibrate(self, data, batch_size=64, search=True):
        """Chooses the int8 membrane grid of every neuron from ``data``.

        The float form runs on ``data`` (``(N, *input_shape)`` float32) and
        records each neuron's membrane over all steps. The grid covers the
        full range, or, with ``search=True``, the range clipped to the
        quantiles in `CLIP_QUANTILES` that gives the smallest squared error
        between the int8 form's outputs and the float outputs on ``data``
        (chosen layer by layer, first to last). Clipping trades a few
        saturated outliers for a finer grid near the threshold.

        Returns:
            self.
        """
        data = np.asarray(data, "float32")
        neurons = self.plan.neurons
        exact = [_form(op) for op in neurons]
        probe = tf.function(lambda x: self._forward(x, exact, quantized=False))
        outputs, values = [], [[] for _ in neurons]
        for start in range(0, len(data), batch_size):
            y, membranes = probe(tf.constant(data[start:start + batch_size]))
            outputs.append(y.numpy())
            for i, tensors in enumerate(membranes):
                values[i].append(np.concatenate([np.ravel(v.numpy()) for v in tensors]))
        reference = np.concatenate(outputs)
        values = [np.concatenate(v) for v in values]
        self.forms = [_quantized_form(op, v.min(), v.max()) for op, v in zip(neurons, values)]
        if not search:
            return self
        for i, (op, v) in enumerate(zip(neurons, values)):
            best = None
            for q in CLIP_QUANTILES:
                low, high = np.quantile(v, [q, 1.0 - q])
                high = max(high, min(v.max(), exact[i].unit))  # keep a spike representable
                trial = list(self.forms)
                trial[i] = _quantized_form(op, low, high)
                error = np.mean((self._run(trial, data, batch_size) - reference) ** 2)
                if best is None or error < best[0]:
                    best = (error, trial[i])
            self.forms[i] = best[1]
        return self

    def _run(self, forms, data, batch_size):
        fn = tf.function(lambda x: self._forward(x, forms, quantized=True)[0])
        return np.concatenate([fn(tf.constant(data[s:s + batch_size])).numpy()
                               for s in range(0, len(data), batch_size)])

    def int8_function(self):
        """The int8 form as a `tf.function`; call `calibrate` first."""
        if self.forms is None:
            raise RuntimeError("StaticGraph.int8_function: call calibrate(data) first.")
        return tf.function(lambda x: self._forward(x, self.forms, quantized=True)[0])

    # -- the graph ------------------------------------------------------
    def _forward(self, x, forms, quantized):
        plan = self.plan
        steps = plan.timesteps
        lowered = _Lowered(plan, forms)
        apply = _Constants(quantize_weights=quantized).apply
        shared = x
        for op in lowered.pre_shared:
            shared = apply(op, shared)
        variants = [shared, shared]
        if lowered.pre_variants is not None:
            variants = []
            for ops in lowered.pre_variants:
                y = shared
                for op in ops:
                    y = apply(op, y)
                variants.append(y)
        state = [None] * len(forms)
        probes = [[] for _ in forms]
        outputs = []
        for t in range(steps):
            y = x[:, t] if plan.time_major else variants[min(t, 1)]
            n = 0
            for op in lowered.body:
                if isinstance(op, _Stepwise):
                    y = apply(op.ops[min(t, 1)], y)
                elif isinstance(op, _ops.Neuron):
                    form = forms[n]
                    with tf.name_scope(SCOPE.format(name=op.name, t=t)):
                        y, state[n], u = _neuron_step(form, y, state[n], quantized,
                                                      last=t == steps - 1)
                    probes[n].append(u)
                    if state[n] is not None:
                        probes[n].append(state[n])
                    n += 1
                else:
                    y = apply(op, y)
            outputs.append(y)
        result = lowered.readout(outputs, quantized, apply)
        for op in plan.post:
            result = apply(op, result)
        return result, probes


@dataclasses.dataclass
class _Stepwise:
    """An op with one variant for step 0 and one for the later steps."""

    ops: tuple


@dataclasses.dataclass
class _ScaleShift:
    """``x * scale + shift`` (a neuron input that no Dense/Conv2D feeds)."""

    scale: float
    shift: float
    output_shape: tuple


class _Lowered:
    """The plan with neuron constants folded into the layers that feed them."""

    def __init__(self, plan, forms):
        self.plan = plan
        self.pre_shared, self.pre_variants = list(plan.pre), None
        self.body = []
        unit = 1.0  # what a 1 in the current tensor stands for
        pending = []  # ops after the last affine, before the next neuron
        n = 0
        for op in plan.body:
            if isinstance(op, _ops.Neuron):
                self._feed(forms[n], pending, unit)
                self.body.append(op)
                unit, pending, n = forms[n].unit, [], n + 1
            elif isinstance(op, _ops.Affine):
                self.body += pending
                pending = [op.scaled(1.0 / unit)]
                unit = 1.0
            else:
                pending.append(op)
        self.last_unit = unit

    def _feed(self, form, pending, unit):
        """Folds ``alpha``, ``1/unit`` and the step biases into the ops feeding a neuron."""
        op = form.op
        bias0 = op.beta * op.initial + op.gamma - op.threshold + form.eps
        bias1 = op.gamma + (op.beta - 1.0) * op.threshold + (1.0 - op.beta) * form.eps
        chain, where = pending, "body"
        if not pending and not self.plan.time_major:
            # The input comes from the encoder: fold into the end of `pre`.
            chain, where = self.pre_shared, "pre"
        affine_at = _source_affine(chain)
        if affine_at is None:
            scale = op.alpha / unit
            variants = [_ScaleShift(scale, b, op.shape) for b in (bias0, bias1)]
            if where == "pre":
                self.pre_variants = tuple([v] for v in variants)
            else:
                self.body += chain + [_Stepwise(tuple(variants))]
            return
        affine = chain[affine_at].scaled(op.alpha)
        rest = chain[affine_at + 1:]
        versions = [dataclasses.replace(affine, bias=(affine.bias * op.alpha + b).astype("float32"))
                    for b in (bias0, bias1)]
        if where == "pre":
            self.pre_shared = chain[:affine_at]
            self.pre_variants = tuple([v, *rest] for v in versions)
        else:
            # `pending` already has 1/unit folded into its affine.
            self.body += chain[:affine_at] + [_Stepwise(tuple(versions))] + rest

    def readout(self, outputs, quantized, apply):
        """Applies the tail and the weighted sum over time."""
        plan = self.plan
        weights = plan.readout.weights(plan.timesteps)
        unit = self.last_unit
        tail = list(plan.tail)
        if plan.tail_is_linear:
            decay = plan.readout.decay
            acc = None
            pool_area = int(np.prod([op.area for op in tail if isinstance(op, _ops.Pool)]))
            for t, spikes in enumerate(outputs):
                if acc is None:
                    acc = spikes
                elif decay == 1.0:
                    acc = acc + spikes
                    if quantized:
                        acc = _fake_quant(acc, _count_grid(unit, t + 1, pool_area))
                else:
                    acc = acc * decay + spikes
            scale = plan.readout.scale / unit
            total = float(sum(weights))
            first = next((i for i, op in enumerate(tail) if isinstance(op, _ops.Affine)), None)
            if first is None:
                result = acc
                for op in tail:
                    result = apply(op, result)
                return result * scale if scale != 1.0 else result
            tail = [op.scaled(1.0, total) if isinstance(op, _ops.Affine) else op for op in tail]
            tail[first] = tail[first].scaled(scale)
            result = acc
            for op in tail:
                result = apply(op, result)
            return result
        first = next(i for i, op in enumerate(tail) if isinstance(op, _ops.Affine)
                     or not _ops.is_linear(op))
        if isinstance(tail[first], _ops.Affine):
            tail[first] = tail[first].scaled(1.0 / unit)
        elif unit != 1.0:
            tail.insert(first, _ScaleShift(1.0 / unit, 0.0, tail[first].input_shape))
        result = None
        for weight, y in zip(weights, outputs):
            for op in tail:
                y = apply(op, y)
            y = y * weight if weight != 1.0 else y
            result = y if result is None else result + y
        return result


def _source_affine(chain):
    """Index of the Dense/Conv2D whose output reaches the neuron through
    ops that commute with ``a * x + b`` (pooling, reshapes), or None."""
    for i in range(len(chain) - 1, -1, -1):
        op = chain[i]
        if isinstance(op, _ops.Affine):
            return None if op.relu else i
        if not isinstance(op, (_ops.Pool, _ops.Reshape)):
            return None
    return None


def _neuron_step(form, u, w_prev, quantized, last):
    """One step of the shifted form. ``u`` arrives as ``alpha * x_t + bias_t``.

    Returns ``(spikes, w, u)``; ``w`` is None on the last step (unused)."""
    op = form.op
    grid = form.grid
    if w_prev is not None and op.beta != 0.0:
        leak = w_prev * op.beta
        if quantized:
            leak = _fake_quant(leak, grid.scaled(op.beta))
        u = leak + u
    if quantized:
        u = _fake_quant(u, grid)
        spikes = tf.nn.relu(u * (form.unit / grid.scale))
        spikes = _fake_quant(spikes, _Grid(form.unit / 255.0, -128))
    else:
        fired = u >= 0.0 if op.inclusive else u > 0.0
        spikes = tf.cast(fired, u.dtype)
        if form.unit != 1.0:
            spikes = spikes * form.unit
    if last:
        return spikes, None, u
    if op.reset == "none":
        w = u
    else:
        kept = tf.minimum(u, 0.0) if form.hard else u
        w = kept - spikes
        if quantized:
            w = _fake_quant(w, grid)
    return spikes, w, u


class _Constants:
    """Turns ops into TensorFlow ops, with one constant per weight array (the
    step variants of a layer share their kernel). With ``quantize_weights``,
    kernels are rounded to the converter's int8 grid (symmetric, per output
    channel), so the float graph computes what the int8 one will; the
    converter then re-quantizes them without loss."""

    def __init__(self, quantize_weights):
        self.quantize_weights = quantize_weights
        self.cache = {}

    def kernel(self, array):
        key = id(array)
        if key not in self.cache:
            if self.quantize_weights:
                axes = tuple(range(array.ndim - 1))
                scale = np.abs(array).max(axis=axes) / 127.0
                scale = np.where(scale > 0, scale, 1.0)
                array = (np.round(array / scale) * scale).astype("float32")
            self.cache[key] = tf.constant(array)
        return self.cache[key]

    def apply(self, op, x):
        if isinstance(op, _ops.Affine):
            kernel = self.kernel(op.kernel)
            if op.kind == "dense":
                y = tf.matmul(x, kernel)
            else:
                y = tf.nn.conv2d(x, kernel, strides=op.strides, padding=op.padding.upper(),
                                 dilations=op.dilation)
            y = y + tf.constant(op.bias)
            return tf.nn.relu(y) if op.relu else y
        if isinstance(op, _ops.Pool):
            pool = tf.nn.avg_pool2d if op.kind == "avg" else tf.nn.max_pool2d
            return pool(x, op.size, op.strides, op.padding.upper())
        if isinstance(op, _ops.Reshape):
            return tf.reshape(x, (-1, *op.output_shape))
        if isinstance(op, _ops.Relu):
            return tf.nn.relu(x)
        if isinstance(op, _ScaleShift):
            y = x * op.scale if op.scale != 1.0 else x
            return y + op.shift if op.shift else y
        raise TypeError(f"StaticGraph: no TensorFlow form for {type(op).__name__}.")
