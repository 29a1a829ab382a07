"""`Distiller` under fit/evaluate/predict/callbacks on the current backend (tiny models)."""

import warnings

import keras
import numpy as np
import pytest
from keras import ops

from keras_snnkd import datasets, layers, models, neurons
from keras_snnkd.distill import (
    AttentionTransfer,
    Distiller,
    FeatureKD,
    KDLoss,
    RateKD,
    ResponseKD,
    SpikeCountKD,
    TerminateOnNaNTerm,
    cache_teacher,
    distill_chain,
)
from keras_snnkd.distill.model_outputs import FINAL, feature_extractor

from conftest import BACKEND, to_numpy

CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


@pytest.fixture(scope="module")
def digits():
    return datasets.load_digits()


def cnn_teacher():
    """A small ANN with BatchNorm (whose statistics must never move)."""
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(16, 3, padding="same", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(10, name="logits")(x), name="teacher")


@pytest.fixture(scope="module")
def teacher(digits):
    keras.utils.set_random_seed(1)
    (x, y), _ = digits
    model = cnn_teacher()
    model.compile("adam", CE, metrics=["accuracy"])
    model.fit(x, y, batch_size=64, epochs=4, verbose=0)
    return model


def conv_student(timesteps=2, channels=4, return_membrane=False):
    """Conv -> LIF ('lif', 8x8 maps) -> Dense readout, logits = mean over time."""
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(channels, 3, padding="same")(inputs)
    x = layers.RepeatEncoder(timesteps)(x)
    x = neurons.LIF(name="lif", return_membrane=return_membrane)(x)
    spikes = x[0] if return_membrane else x
    x = layers.TimeFolded(keras.layers.Flatten())(spikes)
    x = layers.TimeFolded(keras.layers.Dense(10))(x)
    return keras.Model(inputs, layers.MeanOverTime()(x), name="student")


def values(variables):
    return [to_numpy(v).copy() for v in variables]


def test_label_free_response_kd_transfers_the_teacher(digits, teacher):
    """No labels at all: the student learns the digits from the teacher's soft targets."""
    (x, _), (x_test, y_test) = digits
    student = models.dense_snn(timesteps=2, input_shape=(8, 8, 1), hidden=(64,))
    distiller = Distiller(teacher, student, [ResponseKD(temperature=2.0)])
    distiller.compile(keras.optimizers.Adam(5e-3))
    distiller.fit(cache_teacher(distiller, x), batch_size=64, epochs=6, verbose=0)
    accuracy = np.mean(np.argmax(student.predict(x_test, verbose=0), -1) == y_test)
    assert accuracy > 0.85


def test_feature_extractor_takes_a_single_input_as_given():
    """Keras warns at every call of a functional model whose input structure differs
    from its own: a list of one against a lone array (as the Distiller's step passes
    under torch.compile's tracing). The feature extractors take a lone input."""
    extractor = feature_extractor(cnn_teacher(), ["relu"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        features = extractor(np.zeros((2, 8, 8, 1), "float32"))
    assert sorted(features) == sorted([FINAL, "relu"])


def test_teacher_is_frozen_and_gets_no_gradient(digits, teacher):
    (x, y), _ = digits
    student = conv_student()
    feature = FeatureKD("relu", "lif")  # 16 teacher channels, 4 student channels: adapter
    distiller = Distiller(teacher, student, [ResponseKD(), feature])
    assert not teacher.trainable
    assert {id(v) for v in distiller.trainable_variables} == {
        id(v) for v in student.trainable_variables + feature.adapter.trainable_variables}
    distiller.compile("adam", CE)
    teacher_before, student_before = values(teacher.weights), values(student.weights)
    distiller.fit(x[:256], y[:256], batch_size=32, epochs=1, verbose=0)
    names = [v.path for v in teacher.weights]
    assert any("moving_mean" in n for n in names)
    for name, before, after in zip(names, teacher_before, values(teacher.weights)):
        np.testing.assert_array_equal(before, after, err_msg=name)
    assert not any(np.array_equal(a, b) for a, b in zip(student_before, values(student.weights)))
    if BACKEND == "torch":  # autograd never reached the teacher's parameters
        assert all(v.value.grad is None for v in teacher.weights)


@pytest.mark.skipif(BACKEND != "torch", reason="graph breaks are a torch.compile notion")
def test_torch_compiled_step_breaks_only_at_backward_and_compiles_once(digits, teacher):
    """Under torch.compile the step is two graphs (autograd's backward splits it)
    and later steps reuse them: no import, metric lookup or leftover gradient in
    the step makes Dynamo fall back to eager or recompile."""
    import torch
    from torch._dynamo.utils import counters

    (x, y), _ = digits
    distiller = Distiller(teacher, conv_student(), [ResponseKD(), FeatureKD("relu", "lif")])
    distiller.compile("adam", CE, metrics=["accuracy"])
    distiller.fit(x[:32], y[:32], batch_size=32, epochs=1, verbose=0)  # builds, eagerly
    assert all(v.value.grad is None for v in distiller.trainable_weights)
    data = (ops.convert_to_tensor(x[:32]), ops.convert_to_tensor(y[:32]))
    torch._dynamo.reset()
    counters.clear()
    step = torch.compile(distiller.train_step, backend="eager")  # Dynamo only
    for _ in range(3):
        step(data)
    reasons = [str(reason) for reason in counters["graph_break"]]
    assert reasons and all("backward" in r for r in reasons), reasons
    assert counters["stats"]["unique_graphs"] == 2


def test_logs_hold_every_term_and_the_weighted_total(digits, teacher):
    (x, y), _ = digits
    distiller = Distiller(teacher, conv_student(), [ResponseKD(), FeatureKD("relu", "lif"),
                                                    AttentionTransfer("conv", "lif")],
                          loss_weights=[2.0, 0.5, 10.0], student_loss_weight=0.3)
    distiller.compile("adam", CE, metrics=["accuracy"])
    logs = distiller.evaluate(x[:64], y[:64], batch_size=64, verbose=0, return_dict=True)
    assert sorted(logs) == ["accuracy", "attention_transfer", "feature_kd", "loss",
                            "response_kd", "student_loss"]
    total = (0.3 * logs["student_loss"] + 2.0 * logs["response_kd"]
             + 0.5 * logs["feature_kd"] + 10.0 * logs["attention_transfer"])
    assert logs["loss"] == pytest.approx(total, rel=1e-5)
    assert logs["student_loss"] == pytest.approx(
        float(CE(y[:64], distiller.predict(x[:64], verbose=0))), rel=1e-5)


def test_cached_teacher_trains_exactly_like_the_live_teacher(digits, teacher):
    (x, y), _ = digits
    x, y = x[:128], y[:128]
    students = [conv_student(), conv_student()]
    students[1].set_weights(students[0].get_weights())
    trained = []
    for student, cached in zip(students, (False, True)):
        feature = FeatureKD("relu", "lif", adapter=True)
        distiller = Distiller(teacher, student, [ResponseKD(), feature])
        feature.adapter.set_weights([np.full(w.shape, 0.1, "float32")
                                     for w in feature.adapter.weights])
        distiller.compile(keras.optimizers.SGD(0.1), CE)
        data = cache_teacher(distiller, x) if cached else x
        history = distiller.fit(data, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
        trained.append((history.history, values(student.weights)))
    for key in trained[0][0]:
        assert trained[1][0][key] == pytest.approx(trained[0][0][key], rel=1e-4), key
    for live, cached in zip(trained[0][1], trained[1][1]):
        np.testing.assert_allclose(cached, live, rtol=1e-4, atol=1e-5)


def spiking_classifier(timesteps, hidden, name):
    """Dense SNN whose output neurons spike ('out'); logits = spike counts."""
    return keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(hidden),
        layers.RepeatEncoder(timesteps), neurons.LIF(),
        layers.TimeFolded(keras.layers.Dense(10)), neurons.LIF(name="out"),
        layers.SpikeCount(),
    ], name=name)


def test_spike_kd_between_snns_with_different_timesteps(digits):
    (x, y), _ = digits
    teacher = spiking_classifier(timesteps=4, hidden=64, name="snn_teacher")
    teacher.compile("adam", CE)
    teacher.fit(x[:512], y[:512], batch_size=64, epochs=2, verbose=0)
    student = spiking_classifier(timesteps=2, hidden=16, name="snn_student")
    count, rate = SpikeCountKD(temperature=2.0), RateKD()
    distiller = Distiller(teacher, student, [count, rate], loss_weights=[1.0, 5.0])
    assert (count.teacher_layer_name, count.student_layer_name) == ("out", "out")
    distiller.compile(keras.optimizers.Adam(5e-3), CE)
    history = distiller.fit(x[:512], y[:512], batch_size=64, epochs=3, verbose=0).history
    assert sorted(history) == ["loss", "rate_kd", "spike_count_kd", "student_loss"]
    assert history["rate_kd"][-1] < history["rate_kd"][0]
    assert history["spike_count_kd"][-1] < history["spike_count_kd"][0]


def test_membrane_feature_kd_trains_the_adapter(digits, teacher):
    (x, y), _ = digits
    student = conv_student(return_membrane=True)
    feature = FeatureKD("relu", "lif", signal="membrane")
    distiller = Distiller(teacher, student, [feature])
    distiller.compile("adam", CE)
    adapter_before = values(feature.adapter.weights)
    history = distiller.fit(x[:128], y[:128], batch_size=32, epochs=2, verbose=0).history
    assert history["feature_kd"][1] < history["feature_kd"][0]
    assert not np.array_equal(adapter_before[0], values(feature.adapter.weights)[0])


def test_predict_is_the_student_and_the_student_exports_alone(digits, teacher, tmp_path):
    (x, _), _ = digits
    student = conv_student()
    distiller = Distiller(teacher, student, [ResponseKD()])
    np.testing.assert_allclose(distiller.predict(x[:16], verbose=0),
                               student.predict(x[:16], verbose=0), rtol=1e-6)
    student.save(tmp_path / "student.keras")
    loaded = keras.saving.load_model(tmp_path / "student.keras")
    assert isinstance(loaded, keras.Model) and not isinstance(loaded, Distiller)
    np.testing.assert_allclose(loaded.predict(x[:16], verbose=0),
                               student.predict(x[:16], verbose=0), rtol=1e-6)


def test_model_checkpoint_saves_a_loadable_distiller(digits, teacher, tmp_path):
    (x, y), _ = digits
    feature = FeatureKD("relu", "lif")
    distiller = Distiller(teacher, conv_student(), [ResponseKD(), feature],
                          loss_weights=[1.0, 0.5], student_loss_weight=0.5)
    distiller.compile("adam", CE, metrics=["accuracy"])
    path = str(tmp_path / "best.keras")
    distiller.fit(x[:128], y[:128], validation_data=(x[128:192], y[128:192]), batch_size=32,
                  epochs=2, verbose=0,
                  callbacks=[keras.callbacks.ModelCheckpoint(path, monitor="val_loss")])
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, Distiller)
    assert loaded.get_config()["loss_weights"] == [1.0, 0.5]
    np.testing.assert_allclose(loaded.predict(x[:16], verbose=0),
                               distiller.predict(x[:16], verbose=0), rtol=1e-5)
    np.testing.assert_array_equal(values(loaded.distillation_losses[1].adapter.weights)[0],
                                  values(feature.adapter.weights)[0])
    assert loaded.evaluate(x[:64], y[:64], verbose=0, return_dict=True) == pytest.approx(
        distiller.evaluate(x[:64], y[:64], verbose=0, return_dict=True), rel=1e-5)


class InterruptAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("interrupted")


def test_backup_and_restore_resumes_distillation(digits, teacher, tmp_path):
    (x, y), _ = digits
    distiller = Distiller(teacher, conv_student(), [ResponseKD()])
    distiller.compile("adam", CE)
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    with pytest.raises(RuntimeError, match="interrupted"):
        distiller.fit(x[:64], y[:64], batch_size=32, epochs=3, verbose=0,
                      callbacks=[backup, InterruptAt(2)])
    weights_at_backup = values(distiller.student.weights)
    resumed = Distiller(teacher, conv_student(), [ResponseKD()])
    resumed.compile("adam", CE)
    restored = []
    probe = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: restored.extend(values(resumed.student.weights)))
    history = resumed.fit(x[:64], y[:64], batch_size=32, epochs=3, verbose=0,
                          callbacks=[keras.callbacks.BackupAndRestore(str(tmp_path / "backup")),
                                     probe])
    assert history.epoch == [2]
    for a, b in zip(restored, weights_at_backup):
        np.testing.assert_array_equal(a, b)


@keras.saving.register_keras_serializable(package="keras_snnkd_tests")
class ExplodingTerm(KDLoss):
    """A distillation term that becomes NaN once the student's logits move."""

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        return ops.sqrt(-ops.mean(ops.abs(student_outputs)) - 1e-3)


@pytest.mark.parametrize("raise_error", [False, True])
def test_nan_term_stops_training_and_is_named(digits, teacher, capsys, raise_error):
    (x, y), _ = digits
    distiller = Distiller(teacher, conv_student(), [ResponseKD(), ExplodingTerm()])
    distiller.compile("adam", CE)
    if raise_error:
        with pytest.raises(RuntimeError, match="Batch 0: loss term 'exploding_term' is nan"):
            distiller.fit(x[:96], y[:96], batch_size=32, epochs=1, verbose=0,
                          callbacks=[TerminateOnNaNTerm(raise_error=True)])
        return
    history = distiller.fit(x[:96], y[:96], batch_size=32, epochs=3, verbose=0)
    assert history.epoch == [0]  # stopped during the first epoch
    assert "Batch 0: loss term 'exploding_term' is nan" in capsys.readouterr().out


def test_distill_chain_runs_each_stage(digits, teacher):
    (x, y), (x_test, y_test) = digits
    assistant = models.dense_snn(timesteps=2, input_shape=(8, 8, 1), hidden=(64,),
                                 name="assistant")
    student = models.dense_snn(timesteps=2, input_shape=(8, 8, 1), hidden=(16,), name="small")
    losses = [ResponseKD(temperature=2.0)]
    histories = distill_chain([teacher, assistant, student], x, y, losses=losses,
                              student_loss_weight=0.5, optimizer=keras.optimizers.Adam(5e-3),
                              loss=CE, metrics=["accuracy"], use_teacher_cache=True,
                              epochs=3, batch_size=64, verbose=0)
    assert len(histories) == 2
    assert all(len(h.epoch) == 3 and "response_kd" in h.history for h in histories)
    assert not losses[0].built  # each stage distilled with its own copy
    assert not assistant.trainable  # it was the teacher of stage 2
    for model in (assistant, student):
        accuracy = np.mean(np.argmax(model.predict(x_test, verbose=0), -1) == y_test)
        assert accuracy > 0.7, model.name
