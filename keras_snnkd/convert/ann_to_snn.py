"""`ann_to_snn`: converts a trained ReLU/StepReLU ANN into a multi-step SNN."""

import keras
import numpy as np

from keras_snnkd.convert.batch_norm_folding import fold_batch_norm
from keras_snnkd.convert.layer_chain import layer_chain
from keras_snnkd.convert.nonlinearity import nonlinearity_of
from keras_snnkd.convert.threshold_calibration import calibrate_thresholds
from keras_snnkd.layers import MeanOverTime, RepeatEncoder, StepReLU, TimeFolded
from keras_snnkd.neurons import IF, LIF
from keras_snnkd.validation import check_number, check_positive_int

L = keras.layers
LINEAR = (L.Dense, L.Conv1D, L.Conv2D, L.Conv3D)
ACTIVATIONS = (L.Activation, L.ReLU, L.Softmax, StepReLU)
# Stateless layers that commute with a positive scale: f(c x) = c f(x).
HOMOGENEOUS = (L.AveragePooling1D, L.AveragePooling2D, L.AveragePooling3D,
               L.GlobalAveragePooling1D, L.GlobalAveragePooling2D, L.GlobalAveragePooling3D,
               L.Flatten, L.Reshape, L.Permute, L.ZeroPadding1D, L.ZeroPadding2D,
               L.ZeroPadding3D, L.Cropping1D, L.Cropping2D, L.Cropping3D)
# Identities at inference.
DROPPED = (L.Dropout, L.SpatialDropout1D, L.SpatialDropout2D, L.SpatialDropout3D,
           L.GaussianDropout, L.GaussianNoise, L.AlphaDropout, L.ActivityRegularization)
MAX_POOLING = (L.MaxPooling1D, L.MaxPooling2D, L.MaxPooling3D, L.GlobalMaxPooling1D,
               L.GlobalMaxPooling2D, L.GlobalMaxPooling3D)


def ann_to_snn(ann, timesteps, leak=None, calibration_data=None, percentile=99.9,
               thresholds=None, shift=0.5, surrogate="arctan", name=None):
    """Converts a trained ANN into a multi-step SNN of this library's layers.

    Walks the ANN's chain of layers (`layer_chain`) and builds
    ``Input -> [layers before the first activation] -> RepeatEncoder(T) ->
    neuron -> TimeFolded(...) -> neuron -> ... -> TimeFolded(last layer) ->
    MeanOverTime [-> softmax]`` (direct encoding: the first layers run once on
    the analog input). Each ReLU or `keras_snnkd.layers.StepReLU` activation
    becomes an IF neuron (a LIF neuron with ``leak``) with soft reset,
    threshold ``theta`` and initial membrane ``shift * theta``:

    - StepReLU: ``theta`` and ``shift`` are the layer's own (trained) ones,
      so the neuron's rate times ``theta`` equals the StepReLU output for a
      constant input (exactly; see `StepReLU`);
    - ReLU with ``max_value`` (or relu6): ``theta = max_value``;
    - plain ReLU: ``theta`` from ``thresholds[layer name]`` or else the
      ``percentile`` of its activations on ``calibration_data``
      (`calibrate_thresholds`).

    A neuron emits 0/1 spikes where the ANN emitted values in ``[0, theta]``,
    so the next Dense/Conv kernel is multiplied by ``theta`` (a
    ``Rescaling(theta)`` is inserted when no such layer follows).
    BatchNormalization is folded into the Dense/Conv before it
    (`fold_batch_norm`); dropout-like layers are dropped (identities at
    inference); average pooling, flatten, reshape, padding and cropping are
    kept. The ANN is not modified: every layer of the SNN is new and
    trainable (also when the ANN was frozen, e.g. as a distillation teacher).

    Exactness: the first spiking layer sees a constant current, so at
    ``T = levels`` it reproduces its StepReLU exactly; deeper layers see spike
    trains that vary over time, and a neuron that fired early on a current that
    later turns negative keeps that spike, so a fraction of them end one level
    off (mostly above). ``T`` need not equal ``levels``: at other ``T`` each
    neuron quantizes to ``T`` levels instead.

    Args:
        ann: a trained Sequential or functional Keras model that is a single
            chain of Dense/Conv1D-3D, BatchNormalization, ReLU/relu6/StepReLU,
            average pooling, flatten/reshape/padding/cropping, dropout and
            Rescaling layers, with an optional softmax at the end.
        timesteps: number of SNN time steps ``T`` (int >= 1).
        leak: None for IF neurons, or the fraction of membrane lost per
            step in (0, 1]: LIF neurons with ``beta = 1 - leak``.
        calibration_data: a batch of ANN inputs to calibrate plain-ReLU
            thresholds; needed when the ANN has plain ReLUs not in ``thresholds``.
        percentile: percentile for the calibration, in (0, 100].
        thresholds: optional dict ``{layer name: theta}`` for plain ReLUs.
        shift: initial membrane of the neurons that replace ReLUs, as a
            fraction of ``theta``, in [0, 1] (0.5 rounds to the nearest rate).
        surrogate: surrogate gradient of the neurons (for fine-tuning).
        name: name of the SNN; default ``"<ann name>_snn"``.

    Returns:
        An uncompiled `keras.Sequential` mapping ANN inputs to time-averaged
        outputs (logits, or probabilities when the ANN ends with softmax).

    Raises:
        ValueError: ``timesteps``, ``leak``, ``shift`` or ``percentile`` out of
            range, a branch or an unsupported layer or activation (named), a
            BatchNormalization with no Dense/Conv right before it, plain ReLUs
            with neither ``thresholds`` nor ``calibration_data``, ``thresholds``
            naming a layer that is not a plain ReLU.

    Example:
    >>> import numpy as np, keras
    >>> from keras_snnkd.convert import ann_to_snn
    >>> from keras_snnkd.layers import StepReLU
    >>> ann = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5),
    ...                         StepReLU(levels=4), keras.layers.Dense(2)])
    >>> snn = ann_to_snn(ann, timesteps=4)
    >>> [type(layer).__name__ for layer in snn.layers]
    ['Dense', 'RepeatEncoder', 'IF', 'TimeFolded', 'MeanOverTime']
    >>> x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    >>> bool(np.allclose(snn.predict(x, verbose=0), ann.predict(x, verbose=0), atol=1e-5))
    True
    """
    owner = "ann_to_snn"
    timesteps = check_positive_int(owner, "timesteps", timesteps)
    if leak is not None:
        leak = check_number(owner, "leak", leak, low=0, high=1)
    shift = check_number(owner, "shift", shift, low=0, low_inclusive=True, high=1)
    percentile = check_number(owner, "percentile", percentile, low=0, high=100)
    steps = _plan(layer_chain(ann))
    plain = [s["source"] for s in steps if s["kind"] == "relu" and s["threshold"] is None]
    unknown = sorted(set(thresholds or {}) - set(plain))
    if unknown:
        raise ValueError(
            f"{owner}: `thresholds` names {unknown}, which are not plain ReLU "
            f"activations of the ANN; the plain ReLUs are {plain}."
        )
    missing = [source for source in plain if source not in (thresholds or {})]
    if missing and calibration_data is None:
        raise ValueError(
            f"{owner}: the ReLU activations of {missing} need thresholds: pass "
            "`calibration_data` (a batch of ANN inputs) or `thresholds={name: theta}`."
        )
    found = dict(thresholds or {})
    if missing:
        found = {**calibrate_thresholds(ann, calibration_data, percentile), **found}
    for step in steps:
        if step["kind"] == "relu" and step["threshold"] is None:
            step["threshold"] = check_number(
                owner, f"thresholds[{step['source']!r}]", found[step["source"]], low=0)
            step["shift"] = shift
    make_neuron = _neuron_factory(leak, surrogate)
    return _assemble(steps, ann, timesteps, make_neuron, name or f"{ann.name}_snn")


def _plan(chain):
    """Turns the ANN chain into steps, dicts whose ``kind`` is ``"linear"`` (a
    Dense/Conv with its numpy kernel and bias, BatchNorm folded in), ``"pass"``
    (a stateless layer kept as it is), or a nonlinearity: ``"relu"``, ``"step"``,
    ``"softmax"``."""
    steps = []
    for layer in chain:
        if isinstance(layer, DROPPED):
            continue
        if isinstance(layer, LINEAR):
            kernel = keras.ops.convert_to_numpy(layer.kernel)
            bias = keras.ops.convert_to_numpy(layer.bias) if layer.use_bias else None
            steps.append({"kind": "linear", "layer": layer, "kernel": kernel, "bias": bias})
            _add_activation(steps, layer)
        elif isinstance(layer, L.BatchNormalization):
            _fold_into_previous(steps, layer)
        elif isinstance(layer, ACTIVATIONS):
            _add_activation(steps, layer)
        elif isinstance(layer, HOMOGENEOUS + (L.Rescaling,)):
            steps.append({"kind": "pass", "layer": layer})
        elif isinstance(layer, MAX_POOLING):
            raise ValueError(
                f"ann_to_snn: layer {layer.name!r} ({type(layer).__name__}) cannot be "
                "converted: the max of spike trains is not the max of their rates. "
                "Train the ANN with average pooling instead."
            )
        else:
            raise ValueError(
                f"ann_to_snn: layer {layer.name!r} ({type(layer).__name__}) is not "
                "supported; the converter maps Dense, Conv1D/2D/3D, BatchNormalization, "
                "ReLU/StepReLU/softmax activations, average pooling, Flatten, Reshape, "
                "Permute, padding, cropping, Rescaling and dropout layers."
            )
    for step in steps[:-1]:
        if step["kind"] == "softmax":
            raise ValueError(
                f"ann_to_snn: the softmax of layer {step['source']!r} is not the last "
                "operation of the model; softmax is only supported as the output."
            )
    if not any(step["kind"] in ("relu", "step") for step in steps):
        raise ValueError(
            "ann_to_snn: the ANN has no ReLU or StepReLU activation to turn into "
            "spiking neurons."
        )
    return steps


def _add_activation(steps, layer):
    found = nonlinearity_of(layer)
    if found.kind != "linear":
        steps.append({"kind": found.kind, "source": layer.name,
                      "threshold": found.threshold, "shift": found.shift})


def _fold_into_previous(steps, batch_norm):
    previous = steps[-1] if steps else None
    if previous is None or previous["kind"] != "linear" or previous.get("folded"):
        if previous is None:
            after = "the input"
        elif previous["kind"] in ("linear", "pass"):
            after = f"layer {previous['layer'].name!r}"
        else:
            after = f"the {previous['kind']} activation of {previous['source']!r}"
        raise ValueError(
            f"ann_to_snn: BatchNormalization {batch_norm.name!r} follows {after}; it can "
            "only be folded into a Dense/Conv layer directly before it (with no "
            "activation in between)."
        )
    layer = previous["layer"]
    channels_first = getattr(layer, "data_format", "channels_last") == "channels_first"
    rank = batch_norm.input_spec.ndim
    axis = batch_norm.axis % rank
    if axis != (1 if channels_first else rank - 1):
        raise ValueError(
            f"ann_to_snn: BatchNormalization {batch_norm.name!r} normalizes axis "
            f"{batch_norm.axis}, not the channel axis of {layer.name!r}; it cannot be folded."
        )
    previous["kernel"], previous["bias"] = fold_batch_norm(
        previous["kernel"], previous["bias"], batch_norm)
    previous["folded"] = True


def _neuron_factory(leak, surrogate):
    """``make(threshold, shift, source)``: the IF (or LIF) neuron replacing ``source``."""
    def make(threshold, shift, source):
        options = {"threshold": threshold, "surrogate": surrogate,
                   "initial_membrane": shift * threshold if shift else None}
        if leak is None:
            return IF(name=f"{source}_if", **options)
        return LIF(beta=1.0 - leak, name=f"{source}_lif", **options)
    return make


def _fresh_copy(layer, **changes):
    """A new, unbuilt, trainable layer with ``layer``'s config (a frozen teacher's
    ``trainable=False`` must not carry over to the SNN)."""
    return type(layer).from_config({**layer.get_config(), "trainable": True, **changes})


def _assemble(steps, ann, timesteps, make_neuron, name):
    layers = [keras.Input(tuple(ann.inputs[0].shape[1:]))]
    weights = []
    scale, encoded = 1.0, False

    def add(layer):
        layers.append(TimeFolded(layer) if encoded else layer)

    def flush_scale():
        nonlocal scale
        if scale != 1.0:
            add(L.Rescaling(scale))
            scale = 1.0

    for step in steps:
        kind = step["kind"]
        if kind == "linear":
            clone = _fresh_copy(step["layer"], activation="linear",
                                use_bias=step["bias"] is not None)
            kernel = step["kernel"] * np.asarray(scale, step["kernel"].dtype)
            bias = [] if step["bias"] is None else [step["bias"]]
            weights.append((clone, [kernel, *bias]))
            scale = 1.0
            add(clone)
        elif kind == "pass":
            if not isinstance(step["layer"], HOMOGENEOUS):
                flush_scale()
            add(_fresh_copy(step["layer"]))
        elif kind in ("relu", "step"):
            flush_scale()
            if not encoded:
                layers.append(RepeatEncoder(timesteps))
                encoded = True
            layers.append(make_neuron(step["threshold"], step["shift"], step["source"]))
            scale = step["threshold"]
    softmax = steps[-1]["kind"] == "softmax"
    flush_scale()
    layers.append(MeanOverTime())
    if softmax:
        layers.append(L.Activation("softmax", name=f"{steps[-1]['source']}_softmax"))
    snn = keras.Sequential(layers, name=name)
    for clone, values in weights:
        clone.set_weights(values)
    return snn
