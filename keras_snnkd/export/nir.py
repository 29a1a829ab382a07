"""`to_nir`: a spiking Keras model as a Neuromorphic Intermediate Representation graph."""

import numpy as np

from keras_snnkd.export import _ops
from keras_snnkd.export.plan import ExportPlan
from keras_snnkd.validation import check_number


def to_nir(model, dt=1e-4, timesteps=None):
    """Converts a spiking model to a `nir.NIRGraph` (one time step of the network).

    NIR describes neurons as continuous-time equations; a simulator steps
    them with its own ``dt``. The parameters are chosen so that a forward-Euler
    step of length ``dt`` is exactly this library's discrete neuron
    (``h = beta * v + alpha * x + gamma``, see `ExportPlan`):

    - `LIF` (and `ParametricLIF` at its learned ``tau``) -> ``nir.LIF`` with
      ``tau = dt / (1 - beta)``, ``r = alpha * tau / dt``, ``v_leak`` = the
      resting potential, ``v_threshold = theta``, ``v_reset``;
    - `IF` (``beta = 1``) -> ``nir.IF`` with ``r = alpha / dt``;
    - Dense -> ``nir.Affine``; Conv2D -> ``nir.Conv2d`` (channels-first weights,
      ``(out, in, kh, kw)``); AveragePooling2D -> ``nir.AvgPool2d``; Flatten ->
      ``nir.Flatten`` (the next Affine's columns are permuted from Keras's
      channels-last order to NIR's channels-first one).

    ``dt`` defaults to 1e-4 s, the step snnTorch's NIR importer assumes.
    The graph maps one step's input to one step's output; the readout (mean
    or sum over time, final membrane) is recorded in ``graph.metadata``
    (``readout``, ``timesteps``, ``dt``) for the runtime to apply.

    NIR's LIF and IF nodes reset to ``v_reset`` (hard reset) and fire on
    ``v > v_threshold``, so only neurons with ``reset="zero"``, a strict
    threshold and the default initial membrane convert; others raise
    ``ValueError`` rather than export a different network.

    Args:
        model: a built spiking `keras.Model` (see `ExportPlan.from_model`).
        dt: the simulation step in seconds (> 0).
        timesteps: recorded in the metadata; default the model's own ``T``.

    Returns:
        A `nir.NIRGraph` with nodes ``input``, one per layer (named after it)
        and ``output``, chained in order.

    Example:
    >>> import keras
    >>> from keras_snnkd.export import to_nir
    >>> from keras_snnkd.layers import MeanOverTime, RepeatEncoder
    >>> from keras_snnkd.neurons import LIF
    >>> model = keras.Sequential([
    ...     keras.Input((4,)), keras.layers.Dense(3, name="fc"), RepeatEncoder(2),
    ...     LIF(beta=0.9, reset="zero", name="lif"), MeanOverTime()])
    >>> graph = to_nir(model)
    >>> list(graph.nodes)
    ['input', 'fc', 'lif', 'output']
    >>> round(float(graph.nodes["lif"].tau[0]), 6), round(float(graph.nodes["lif"].r[0]), 3)
    (0.001, 10.0)
    """
    import nir

    dt = check_number("to_nir", "dt", dt, low=0.0)
    plan = ExportPlan.from_model(model, timesteps=timesteps)
    if plan.time_major:
        first_shape = plan.input_shape[1:]
    else:
        first_shape = plan.input_shape
    nodes = {"input": nir.Input(input_type={"input": np.array(_channels_first(first_shape))})}
    order = ["input"]
    permutation = None  # NIR flat index -> Keras flat index after a Flatten
    for op in [*plan.pre, *plan.body, *plan.tail]:
        node, permutation = _node(nir, op, dt, permutation)
        nodes[op.name] = node
        order.append(op.name)
    nodes["output"] = nir.Output(
        output_type={"output": np.array(_channels_first(plan.tail[-1].output_shape
                                                        if plan.tail else plan.body[-1].shape))})
    order.append("output")
    if plan.post:
        raise ValueError(
            f"to_nir: layers after the readout ({', '.join(op.name for op in plan.post)}) "
            "have no NIR form; the NIR graph ends before the readout."
        )
    metadata = {"readout": plan.readout.kind, "readout_decay": plan.readout.decay,
                "timesteps": plan.timesteps, "dt": dt, "source": "keras_snnkd"}
    return nir.NIRGraph(nodes=nodes, edges=list(zip(order[:-1], order[1:])),
                        metadata=metadata)


def _channels_first(shape):
    shape = tuple(int(d) for d in shape)
    return (shape[-1], *shape[:-1]) if len(shape) == 3 else shape


def _node(nir, op, dt, permutation):
    """The NIR node of one op, and the flatten permutation after it."""
    if isinstance(op, _ops.Affine):
        if op.relu:
            raise ValueError(f"to_nir: layer {op.name!r} has a ReLU activation, which NIR "
                             "cannot express; only spiking nonlinearities export.")
        if op.kind == "dense":
            kernel = op.kernel if permutation is None else op.kernel[permutation]
            return nir.Affine(weight=kernel.T.copy(), bias=op.bias.copy()), None
        return nir.Conv2d(
            input_shape=np.array(op.input_shape[:2]),
            weight=op.kernel.transpose(3, 2, 0, 1).copy(),
            stride=tuple(op.strides), padding=_conv_padding(op),
            dilation=tuple(op.dilation), groups=1, bias=op.bias.copy()), None
    if isinstance(op, _ops.Pool):
        if op.kind != "avg" or op.padding != "valid":
            raise ValueError(
                f"to_nir: layer {op.name!r} ({op.kind} pooling, padding={op.padding!r}) "
                "has no NIR form; NIR has average pooling with 'valid' padding."
            )
        return nir.AvgPool2d(kernel_size=np.array(op.size), stride=np.array(op.strides),
                             padding=np.array([0, 0])), None
    if isinstance(op, _ops.Reshape):
        if len(op.output_shape) != 1:
            raise ValueError(f"to_nir: Reshape {op.name!r} to {op.output_shape} has no NIR "
                             "form; only flattening exports.")
        source = np.array(_channels_first(op.input_shape))
        order = None
        if len(op.input_shape) == 3:
            order = np.arange(int(np.prod(op.input_shape))).reshape(op.input_shape)
            order = order.transpose(2, 0, 1).ravel()
        return nir.Flatten(input_type={"input": source}, start_dim=0, end_dim=-1), order
    if isinstance(op, _ops.Neuron):
        return _neuron(nir, op, dt), None
    raise ValueError(f"to_nir: layer {op.name!r} ({type(op).__name__}) has no NIR form.")


def _conv_padding(op):
    if op.padding == "valid":
        return (0, 0)
    pads = []
    for size, kernel, stride, dilation in zip(op.input_shape[:2], op.kernel.shape[:2],
                                              op.strides, op.dilation):
        span = (kernel - 1) * dilation + 1
        total = max((-(-size // stride) - 1) * stride + span - size, 0)
        if total % 2:
            raise ValueError(
                f"to_nir: Conv2D {op.name!r} with padding='same' pads unevenly "
                f"({total} rows/columns); NIR's Conv2d pads symmetrically. Use an odd "
                "kernel with stride 1, or padding='valid'."
            )
        pads.append(total // 2)
    return tuple(pads)


def _neuron(nir, op, dt):
    problems = []
    if op.reset != "zero":
        problems.append(f"reset={op.reset!r} (NIR's LIF/IF reset to v_reset: use reset='zero')")
    if op.inclusive:
        problems.append("threshold_inclusive=True (NIR fires on v > v_threshold)")
    if op.initial != op.rest:
        problems.append(f"an initial membrane of {op.initial} (NIR starts at rest)")
    if problems:
        raise ValueError(f"to_nir: neuron {op.name!r} has no exact NIR form: "
                         + "; ".join(problems) + ".")
    shape = _channels_first(op.shape)
    full = lambda value: np.full(shape, value, dtype="float32")
    if op.beta == 1.0:
        return nir.IF(r=full(op.alpha / dt), v_threshold=full(op.threshold),
                      v_reset=full(op.v_reset))
    tau = dt / (1.0 - op.beta)
    return nir.LIF(tau=full(tau), r=full(op.alpha * tau / dt), v_leak=full(op.rest),
                   v_threshold=full(op.threshold), v_reset=full(op.v_reset))
