"""Bad input, systematically: property-based tests (hypothesis).

Every generated case either gives a finite output of the documented shape or
raises ValueError/TypeError whose message names the offending argument (in
backticks) and the class that refused it; any other exception (a raw backend
error) fails the test. Also: corrupt/truncated .keras and .tflite files, and
``Distiller(check_finite=True)``."""

import re

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keras_snnkd import layers, models, neurons
from keras_snnkd.cli.app import UserError
from keras_snnkd.cli.files import load_model
from keras_snnkd.distill import Distiller, RateKD, ResponseKD, SpikeCountKD
from keras_snnkd.export import LiteRTModel, TFLiteMicroModel, inspect_tflite

# Few examples each (the suite runs on three backends); deadline off (first calls trace).
FEW = settings(max_examples=20, deadline=None, derandomize=True, database=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

NUMBERS = st.one_of(st.floats(-3, 3), st.sampled_from([0.0, float("nan"), float("inf")]),
                    st.sampled_from(["1", None, True]))
COUNTS = st.one_of(st.integers(-1, 4), st.sampled_from([2.0, "3", True, None]))
DTYPES = st.sampled_from(["float32", "float16", "float64", "int32", "bool"])
SHAPES = st.lists(st.integers(0, 4), min_size=1, max_size=4).map(tuple)


def check_refusal(error, owners):
    """A refusal must be ValueError/TypeError naming an argument and who refused it
    (one of ``owners``)."""
    assert isinstance(error, (ValueError, TypeError)), f"raw error: {error!r}"
    message = str(error)
    assert re.search(r"`\w+", message), message
    assert any(owner in message for owner in np.atleast_1d(owners)), message


def outcome(owner, build, run):
    """``run(build())`` or None when either step refused the input properly."""
    try:
        return run(build())
    except Exception as error:  # noqa: BLE001  (the property: only clean refusals)
        check_refusal(error, owner)
        return None


def array(shape, dtype, scale=10.0):
    values = np.random.default_rng(0).normal(0, scale, shape)
    return (values > 0) if dtype == "bool" else values.astype(dtype)


def finite(x):
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(x)))


@FEW
@given(cls=st.sampled_from([neurons.IF, neurons.LIF, neurons.ParametricLIF]),
       threshold=NUMBERS, reset=st.sampled_from(["subtract", "zero", "none", "hard"]),
       v_reset=NUMBERS, initial_membrane=NUMBERS, surrogate=st.sampled_from(
           ["arctan", "fast_sigmoid", "relu"]),
       shape=SHAPES, dtype=DTYPES)
def test_neurons(cls, threshold, reset, v_reset, initial_membrane, surrogate, shape, dtype):
    kwargs = {"threshold": threshold, "reset": reset, "v_reset": v_reset,
              "initial_membrane": initial_membrane, "surrogate": surrogate}
    out = outcome(cls.__name__, lambda: cls(**kwargs), lambda n: n(array(shape, dtype)))
    if out is not None:
        assert tuple(out.shape) == shape
        finite(out)


@FEW
@given(beta=NUMBERS, tau=NUMBERS, init_tau=NUMBERS, decay_input=st.sampled_from([True, 1]))
def test_leak_arguments(beta, tau, init_tau, decay_input):
    x = array((2, 3, 4), "float32")
    for cls, kwargs in ((neurons.LIF, {"beta": beta}), (neurons.LIF, {"tau": tau}),
                        (neurons.LIF, {"beta": beta, "tau": tau}),
                        (neurons.ParametricLIF, {"init_tau": init_tau,
                                                 "decay_input": decay_input})):
        out = outcome(cls.__name__, lambda: cls(**kwargs), lambda n: n(x))
        if out is not None:
            assert tuple(out.shape) == x.shape
            finite(out)


ENCODERS = {
    "RepeatEncoder": lambda t, extra: layers.RepeatEncoder(t),
    "PoissonEncoder": lambda t, extra: layers.PoissonEncoder(t, gain=extra, seed=1),
    "LatencyEncoder": lambda t, extra: layers.LatencyEncoder(t, threshold=extra),
}


@FEW
@given(name=st.sampled_from(sorted(ENCODERS)), timesteps=COUNTS, extra=NUMBERS,
       shape=SHAPES, dtype=DTYPES)
def test_encoders(name, timesteps, extra, shape, dtype):
    out = outcome(name, lambda: ENCODERS[name](timesteps, extra),
                  lambda layer: layer(array(shape, dtype, scale=1.0)))
    if out is not None:
        assert tuple(out.shape) == (shape[0], timesteps, *shape[1:])
        finite(out)


@FEW
@given(units=COUNTS, shape=SHAPES, dtype=DTYPES)
def test_time_folded_dense(units, shape, dtype):
    # Dense(units) itself refuses a bad `units` (Keras's message).
    out = outcome(("TimeFolded", "`units`"), lambda: layers.TimeFolded(keras.layers.Dense(units)),
                  lambda layer: layer(array(shape, dtype)))
    if out is not None:
        assert tuple(out.shape) == (*shape[:-1], units)
        finite(out)


@FEW
@given(shape=SHAPES, dtype=DTYPES, readout=st.sampled_from(["MeanOverTime", "SpikeCount"]))
def test_readouts(shape, dtype, readout):
    out = outcome(readout, lambda: getattr(layers, readout)(),
                  lambda layer: layer(array(shape, dtype)))
    if out is not None:
        assert tuple(out.shape) == (shape[0], *shape[2:])
        finite(out)


@FEW
@given(cls=st.sampled_from([ResponseKD, SpikeCountKD]), temperature=NUMBERS,
       magnitude=st.sampled_from([1e-3, 1.0, 1e2, 1e4]), classes=st.integers(1, 5))
def test_kd_losses_on_extreme_logits(cls, temperature, magnitude, classes):
    """Large logits and small temperatures: the loss stays finite and >= 0."""
    rng = np.random.default_rng(0)
    if cls is ResponseKD:  # logits (batch, classes)
        teacher, student = (rng.normal(size=(2, 3, classes)) * magnitude).astype("float32")
    else:  # spike trains (batch, T, classes), scaled to test the cast of any values
        teacher, student = (rng.random((2, 3, 4, classes)) > 0.5).astype("float32") * magnitude
    loss = outcome(cls.__name__, lambda: cls(temperature=temperature),
                   lambda kd: kd.compute_loss(teacher, student))
    if loss is not None:
        value = float(keras.ops.convert_to_numpy(loss))
        assert np.isfinite(value) and value >= -1e-6


TEACHER = models.reference_ann(input_shape=(8, 8, 1))  # construction leaves it unchanged


@settings(max_examples=8, deadline=None, derandomize=True, database=None)
@given(timesteps=st.integers(1, 3), classes=st.sampled_from([10, 7]),
       input_shape=st.sampled_from([(8, 8, 1), (8, 8, 2), (64,)]),
       loss=st.sampled_from([ResponseKD, RateKD, SpikeCountKD, "mse", None]),
       weights=st.sampled_from([None, [1.0], [0.0], [-1.0], [1.0, 1.0], [float("nan")], "1"]),
       student_weight=NUMBERS, check_finite=st.sampled_from([False, True, 1]))
def test_distiller_construction(timesteps, classes, input_shape, loss, weights, student_weight,
                                check_finite):
    """Mismatched students, wrong loss objects and weights are refused by name."""
    student = models.dense_snn(timesteps=timesteps, input_shape=input_shape, hidden=(4,),
                               num_classes=classes)
    term = loss() if isinstance(loss, type) else loss
    distiller = outcome(("Distiller", getattr(loss, "__name__", "")), lambda: Distiller(
        TEACHER, student, [term], loss_weights=weights, student_loss_weight=student_weight,
        check_finite=check_finite), lambda d: d)
    if distiller is not None:
        assert distiller.loss_term_names  # built with valid arguments only
        assert input_shape == (8, 8, 1) and classes == 10


def small_distiller(**kwargs):
    teacher = models.reference_ann(input_shape=(8, 8, 1))
    student = models.dense_snn(timesteps=2, input_shape=(8, 8, 1), hidden=(8,))
    distiller = Distiller(teacher, student, [ResponseKD(2.0)], **kwargs)
    distiller.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return distiller


def test_check_finite_names_the_batch_of_bad_inputs():
    x, y = np.random.default_rng(0).random((32, 8, 8, 1), "float32"), np.arange(32) % 10
    x[21, 3, 3, 0] = np.nan  # batch 2 of 8
    distiller = small_distiller(check_finite=True)
    with pytest.raises(ValueError, match="`x` of training batch 2 hold NaN or Inf"):
        distiller.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    x[21, 3, 3, 0], x[9, 0, 0, 0] = 0.0, -np.inf  # batch 1
    with pytest.raises(ValueError, match="`x` of evaluation batch 1"):
        distiller.evaluate(x, y, batch_size=8, verbose=0)


def test_check_finite_names_a_non_finite_loss_term():
    x, y = np.random.default_rng(0).random((16, 8, 8, 1), "float32"), np.arange(16) % 10
    distiller = small_distiller(check_finite=True)
    distiller.teacher.layers[-1].kernel.assign(
        np.full(distiller.teacher.layers[-1].kernel.shape, np.inf, "float32"))
    with pytest.raises(RuntimeError, match="Batch 0: loss term 'response_kd' is nan"):
        distiller.fit(x, y, batch_size=8, epochs=1, verbose=0)


def test_check_finite_logs_zero_on_clean_data():
    x, y = np.random.default_rng(0).random((16, 8, 8, 1), "float32"), np.arange(16) % 10
    history = small_distiller(check_finite=True).fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert history.history["nonfinite_inputs"] == [0.0]
    assert "nonfinite_inputs" not in small_distiller().fit(x, y, epochs=1, verbose=0).history


@pytest.fixture(scope="module")
def good_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("files")
    keras_path = folder / "model.keras"
    models.dense_snn(timesteps=2, input_shape=(8, 8, 1), hidden=(4,)).save(keras_path)
    return folder, keras_path.read_bytes()


@pytest.mark.parametrize("cut", [0, 0.1, 0.5, 0.99])
def test_truncated_keras_file_gives_a_clear_error(good_files, cut):
    folder, blob = good_files
    path = folder / f"cut{cut}.keras"
    path.write_bytes(blob[:int(len(blob) * cut)])
    with pytest.raises(UserError, match=f"cannot load the teacher from {re.escape(str(path))}"):
        load_model(str(path), "teacher")


def tflite_blob():
    """A valid one-op ``.tflite`` built from the schema (no TensorFlow needed)."""
    from ai_edge_litert import schema_py_generated as schema
    import flatbuffers

    model = schema.ModelT()
    model.version, model.description = 3, "relu"
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.RELU
    model.operatorCodes = [code]
    model.buffers = [schema.BufferT()]
    tensors = []
    for name in ("x", "y"):
        tensor = schema.TensorT()
        tensor.shape, tensor.type, tensor.buffer, tensor.name = [1, 4], 0, 0, name
        tensors.append(tensor)
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0], [1]
    graph = schema.SubGraphT()
    graph.tensors, graph.operators, graph.inputs, graph.outputs = tensors, [op], [0], [1]
    model.subgraphs = [graph]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.mark.parametrize("reader", [LiteRTModel, TFLiteMicroModel, inspect_tflite])
@pytest.mark.parametrize("cut", [0, 7, 0.5, 0.9])
def test_truncated_tflite_file_gives_a_clear_error(tmp_path, reader, cut):
    blob = tflite_blob()
    whole = tmp_path / "whole.tflite"
    whole.write_bytes(blob)
    assert LiteRTModel(whole).predict(np.array([[-1, 2, -3, 4]], "float32")).tolist() == [
        [0, 2, 0, 4]]
    path = tmp_path / "cut.tflite"
    path.write_bytes(blob[:cut if isinstance(cut, int) else int(len(blob) * cut)])
    owner = getattr(reader, "__name__", "")
    with pytest.raises(ValueError, match=rf"{owner}: `path` is (not a TFLite|a truncated)"):
        reader(path)


def test_garbage_tflite_file(tmp_path):
    path = tmp_path / "text.tflite"
    path.write_text("this is not a model" * 10)
    with pytest.raises(ValueError, match="no TFL3 identifier"):
        LiteRTModel(path)
