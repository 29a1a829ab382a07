"""`estimate`: spike-aware operation, memory and energy counts of a model on real input."""

import warnings

import keras
import numpy as np

from keras_snnkd import monitor
from keras_snnkd.cost import graph, layer_counts, profiles
from keras_snnkd.cost.report import CostReport
from keras_snnkd.layers import infer_timesteps
from keras_snnkd.validation import check_positive_int

__all__ = ["estimate"]


def _check_model(model, argument):
    if not isinstance(model, keras.Model):
        raise TypeError(f"estimate: `{argument}` must be a keras.Model, got "
                        f"{type(model).__name__}.")
    inputs = getattr(model, "inputs", None) if model.built else None
    if not inputs:
        raise ValueError(
            f"estimate: `{argument}` ({model.name!r}) has no symbolic inputs: build it "
            "as a functional or Sequential model starting with keras.Input(...)."
        )
    if len(inputs) != 1:
        raise ValueError(f"estimate: `{argument}` must have one input, got {len(inputs)}.")


def _as_batch(batch, expected):
    if isinstance(batch, (tuple, list)) and batch and not np.isscalar(batch[0]):
        batch = batch[0]  # an (x, y[, sample_weight]) batch
    array = np.asarray(keras.ops.convert_to_numpy(batch)
                       if keras.ops.is_tensor(batch) else batch)
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(
            f"estimate: `x` must hold floating-point values, got dtype {array.dtype}. "
            "Cast it first, e.g. `x.astype('float32')`."
        )
    compatible = array.ndim == len(expected) and all(
        e is None or e == g for e, g in zip(expected[1:], array.shape[1:]))
    if not compatible or array.shape[0] == 0:
        raise ValueError(
            f"estimate: `x` must have shape (batch, {', '.join(map(str, expected[1:]))}) "
            f"to match the model input {tuple(expected)}; got a batch of shape "
            f"{array.shape}. A single sample needs a batch axis: x[None]."
        )
    return array


def _batches(x, batch_size, expected):
    """Yields float numpy batches from an array/tensor or an iterable of batches."""
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        array = _as_batch(x, expected)
        for start in range(0, len(array), batch_size):
            yield array[start:start + batch_size]
        return
    try:
        iterator = iter(x)
    except TypeError:
        raise TypeError(
            "estimate: `x` must be an array/tensor or an iterable of batches, got "
            f"{type(x).__name__}."
        ) from None
    empty = True
    for batch in iterator:
        empty = False
        yield _as_batch(batch, expected)
    if empty:
        raise ValueError("estimate: `x` yielded no batch.")


def _plan(model, info):
    """(layer, kind, probed tensor or None, spike scale, steps) for each layer."""
    plan, notes = [], []
    for layer in model.layers:
        kind = graph.kind(layer)
        tensor, scale, steps = None, None, 1
        if kind == "neuron":
            tensor, steps = monitor.spike_output(layer), info.timesteps
        elif kind in ("synaptic", "pool"):
            (tensor,) = graph.input_tensors(layer)
            scale = info.spike_scale(tensor)
            steps = info.timesteps if info.has_time(tensor) else 1
        elif layer.weights and not isinstance(graph.inner(layer), graph.FOLDABLE):
            notes.append(f"layer {layer.name!r} ({graph.type_name(layer)}) has weights "
                         "but no counting rule: its operations are not counted.")
        plan.append((layer, kind, tensor, scale, steps))
    return plan, notes


def _probe(model, plan):
    """A model from the input to every probed tensor, and each tensor's output slot."""
    tensors, slots = [], {}
    for _, _, tensor, _, _ in plan:
        if tensor is not None and id(tensor) not in slots:
            slots[id(tensor)] = len(tensors)
            tensors.append(tensor)
    return (keras.Model(model.inputs[0], tensors) if tensors else None), slots


def _count(model, plan, x, batch_size, input_is_spikes, raster_samples):
    """Runs the model batch by batch; returns per-layer count sums, the number
    of samples, the layers whose spike input fell back to analog, and the
    kept spike trains."""
    probe, slots = _probe(model, plan)
    sums = [dict(layer_counts.ZERO) for _ in plan]
    fallback, trains, samples = set(), {}, 0
    for batch in _batches(x, batch_size, tuple(model.inputs[0].shape)):
        if input_is_spikes and not np.isin(batch, (0.0, 1.0)).all():
            raise ValueError("estimate: `input_is_spikes=True` but `x` has values other "
                             "than 0 and 1.")
        samples += len(batch)
        if probe is None:
            continue
        values = probe.predict_on_batch(batch)
        values = values if isinstance(values, (list, tuple)) else [values]
        values = [np.asarray(keras.ops.convert_to_numpy(v)) for v in values]
        for i, (layer, kind, tensor, scale, _) in enumerate(plan):
            if tensor is None:
                continue
            value = values[slots[id(tensor)]]
            if kind == "neuron":
                counts = layer_counts.neuron(value)
                if raster_samples and layer.name not in trains:
                    kept = value[:raster_samples]
                    trains[layer.name] = kept.reshape(len(kept), value.shape[1], -1)
            else:
                spikes = None if scale is None else layer_counts.spike_counts(value, scale)
                if scale is not None and spikes is None:
                    fallback.add(i)
                rule = layer_counts.synaptic if kind == "synaptic" else layer_counts.pooling
                counts = rule(layer, value, spikes)
            for key, count in counts.items():
                sums[i][key] += count
    for i in fallback:  # analog counts do not depend on the values: redo them all
        sums[i] = layer_counts.as_analog(sums[i])
    return sums, samples, fallback, trains


def _estimate(model, x, profile, batch_size, input_is_spikes, raster_samples, argument,
              quiet):
    _check_model(model, argument)
    spiking = monitor.spiking_layers(model)
    encoders = [l for l in model._flatten_layers(include_self=False)
                if isinstance(l, graph.ENCODERS)]
    timesteps = infer_timesteps(model) if spiking or encoders else 1
    info = graph.GraphInfo(model, input_is_spikes, bool(spiking) and not encoders, timesteps)
    notes = []
    if not spiking:
        notes.append(f"model {model.name!r} has no spiking layers: it is counted as an "
                     "ANN (analog activations, MACs only).")
    plan, layer_notes = _plan(model, info)
    notes += layer_notes
    sums, samples, fallback, trains = _count(model, plan, x, batch_size, input_is_spikes,
                                             raster_samples)
    notes += [f"layer {plan[i][0].name!r} is fed by spiking layers but its input is not a "
              "whole number of spikes per element: counted as analog." for i in sorted(fallback)]

    layers = []
    for i, (layer, kind, _, scale, steps) in enumerate(plan):
        record = {k: v / samples for k, v in sums[i].items()}
        for key in ("ann_macs", "ann_adds", "ann_weight_reads"):
            record[key] /= steps  # the twin runs once
        counted = kind in ("synaptic", "pool")
        record.update(
            name=layer.name, type=graph.type_name(layer), kind=kind,
            params=int(layer.count_params()) if layer.built else 0, steps=steps,
            input=None if not counted else
            "spikes" if scale is not None and i not in fallback else "analog")
        layers.append(record)
    if not quiet:
        for message in notes:
            warnings.warn(message, UserWarning, stacklevel=3)
    return CostReport(model.name, profile, layers, samples, timesteps, warnings=notes,
                      spike_trains=trains)


def estimate(model, x, profile="cmos45nm", ann=None, batch_size=64, input_is_spikes=False,
             raster_samples=1):
    """Counts the operations a model performs on real input and prices them.

    The model runs on ``x`` and every top-level layer is counted per
    inference (one sample, all ``T`` steps):

    - Dense / Conv1D-3D / DepthwiseConv (bare or `TimeFolded`): fed by spikes,
      ``ACs = sum_i s_i f_i`` over input elements ``i`` with ``s_i`` spikes and
      fan-out ``f_i`` (outputs its weights reach; exact with padding, strides
      and dilation); fed by analog values (the first layer under direct
      encoding, or after `RepeatEncoder`), the dense MAC count. Bias: one add
      per output per step. Average pooling of spikes is followed through:
      the next layer's ACs count the spikes pooled into each input;
    - average pooling: one add per (spike or value, window) pair;
    - spiking neurons: one state update per neuron and step (reading and
      writing its membrane), spikes and firing rate;
    - every synaptic op and bias add reads one weight (no reuse assumed).

    Each layer also gets its ANN twin's counts (the same layer run once on
    analog activations: dense MACs, bias and pooling adds). The model is
    priced with ``profile``, the ANN side with the profile's ``reference``
    profile if it names one (else ``profile`` too); the reference is ``ann``
    (estimated on the same ``x``) when given, else the ANN twin.

    Args:
        model: a built functional or Sequential model with one input (an SNN,
            or an ANN: then everything is MACs, with a warning).
        x: input array/tensor ``(batch, ...)`` matching the model input, or
            an iterable of such batches (or of ``(x, y)`` tuples).
        profile: a profile name (`keras_snnkd.cost.profiles.available`), a
            path to a JSON profile file, a dict or an `EnergyProfile`.
        ann: optional reference model (the ANN teacher, or any teacher)
            estimated on the same ``x``.
        batch_size: batch size when ``x`` is one array.
        input_is_spikes: treat the model's input as spike trains (event
            data): the first synaptic layer then counts ACs.
        raster_samples: spike trains of this many samples are kept per neuron
            layer for `keras_snnkd.cost.plots.plot_raster`.

    Returns:
        A `keras_snnkd.cost.CostReport`.

    Raises:
        ValueError: ``x`` does not match the model input, an unknown profile
            name (the message lists the known ones), a layer used twice.
        TypeError: non-float ``x``, a model that is not a `keras.Model`.

    Example:
    >>> import numpy as np
    >>> from keras_snnkd import cost, models
    >>> snn = models.dense_snn(timesteps=4, input_shape=(8, 8, 1), hidden=(16,))
    >>> report = cost.estimate(snn, np.random.rand(8, 8, 8, 1).astype("float32"))
    >>> [layer["input"] for layer in report.layers if layer["kind"] == "synaptic"]
    ['analog', 'spikes']
    >>> report.layers[1]["macs"] == 64 * 16  # first Dense: analog input, once
    True
    """
    profile = profiles.get(profile)
    check_positive_int("estimate", "batch_size", batch_size)
    if isinstance(raster_samples, bool) or not isinstance(raster_samples, int) \
            or raster_samples < 0:
        raise ValueError(f"estimate: `raster_samples` must be an int >= 0, got "
                         f"{raster_samples!r}.")
    if not isinstance(input_is_spikes, bool):
        raise TypeError(f"estimate: `input_is_spikes` must be a bool, got {input_is_spikes!r}.")
    if ann is not None:
        _check_model(ann, "ann")
        if not hasattr(x, "shape") and hasattr(x, "__next__"):
            x = list(x)  # a one-shot iterator is read twice
    report = _estimate(model, x, profile, batch_size, input_is_spikes, raster_samples,
                       "model", quiet=False)
    if ann is not None:
        report.reference = _estimate(ann, x, profile.reference or profile, batch_size,
                                     False, 0, "ann", quiet=True)
    return report
