"""Bad input to the distillation API raises a clear error naming the argument."""

import keras
import pytest

from keras_snnkd import layers, neurons
from keras_snnkd.distill import (
    AttentionTransfer,
    Distiller,
    FeatureKD,
    RateKD,
    ResponseKD,
    SpikeCountKD,
    cache_teacher,
    distill_chain,
)


def ann(classes=10, input_shape=(8, 8, 1)):
    return keras.Sequential([keras.Input(input_shape),
                             keras.layers.Conv2D(6, 3, padding="same", name="conv"),
                             keras.layers.Flatten(name="flat"),
                             keras.layers.Dense(classes, name="logits")], name="ann")


def snn(classes=10, timesteps=2, input_shape=(8, 8, 1)):
    return keras.Sequential([keras.Input(input_shape),
                             keras.layers.Conv2D(3, 3, padding="same", name="conv_s"),
                             layers.RepeatEncoder(timesteps), neurons.LIF(name="lif"),
                             layers.TimeFolded(keras.layers.Flatten()),
                             layers.TimeFolded(keras.layers.Dense(classes)),
                             layers.MeanOverTime()], name="snn")


def test_output_class_counts_differ():
    with pytest.raises(ValueError, match=r"outputs must have the same shape.*\(None, 5\).*"
                                         r"\(None, 10\)"):
        Distiller(ann(classes=5), snn(classes=10), [ResponseKD()])


def test_input_shapes_differ():
    with pytest.raises(ValueError, match=r"same inputs.*\(9, 9, 1\).*\(8, 8, 1\)"):
        Distiller(ann(input_shape=(9, 9, 1)), snn(), [ResponseKD()])


def test_response_kd_logits_differ_at_named_layers():
    with pytest.raises(ValueError,
                       match="ResponseKD: teacher and student logits must have the same shape"):
        Distiller(ann(), snn(), [ResponseKD(teacher_layer_name="flat")])


def test_unknown_feature_layer_lists_the_valid_names():
    with pytest.raises(ValueError, match=r"`teacher_layer_name` 'conv9' is not a layer of the "
                                         r"teacher model 'ann'. Valid names: conv, flat, logits"):
        Distiller(ann(), snn(), [FeatureKD("conv9", "lif")])
    with pytest.raises(ValueError, match=r"`student_layer_name` 'lif2'.*Valid names: conv_s, "
                                         r"repeat_encoder.*, lif, "):
        Distiller(ann(), snn(), [AttentionTransfer("conv", "lif2")])


@pytest.mark.parametrize("cls", [ResponseKD, SpikeCountKD])
@pytest.mark.parametrize("temperature", [0.0, -1.0])
def test_non_positive_temperature(cls, temperature):
    with pytest.raises(ValueError, match=f"{cls.__name__}: `temperature` must be > 0"):
        cls(temperature=temperature)


def test_temperature_must_be_a_number():
    with pytest.raises(TypeError, match="`temperature` must be a number"):
        ResponseKD(temperature="4")


@pytest.mark.parametrize("weights, error, match", [
    ([1.0], ValueError, r"`loss_weights` needs one weight per loss \(2\); got 1"),
    ([1.0, -0.5], ValueError, r"`loss_weights\[1\]` must be >= 0.0, got -0.5"),
    ([0.0, 0.0], ValueError, r"`loss_weights` are all 0, so nothing would be distilled"),
    ([1.0, float("nan")], ValueError, r"`loss_weights\[1\]` must be finite"),
    ([1.0, "1"], TypeError, r"`loss_weights\[1\]` must be a number"),
])
def test_loss_weights_that_do_not_sum_sensibly(weights, error, match):
    with pytest.raises(error, match=match):
        Distiller(ann(), snn(), [ResponseKD(), FeatureKD("conv", "lif")], loss_weights=weights)


def test_negative_student_loss_weight():
    with pytest.raises(ValueError, match="`student_loss_weight` must be >= 0.0, got -1"):
        Distiller(ann(), snn(), [ResponseKD()], student_loss_weight=-1)


def test_teacher_not_built():
    unbuilt = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(10)], name="lazy")
    with pytest.raises(ValueError, match="`teacher` model 'lazy' is not built"):
        Distiller(unbuilt, snn(), [ResponseKD()])


def test_teacher_not_a_model():
    with pytest.raises(TypeError, match="`teacher` must be a keras.Model, got"):
        Distiller(lambda x: x, snn(), [ResponseKD()])


def test_multi_output_teacher():
    inputs = keras.Input((8, 8, 1))
    flat = keras.layers.Flatten()(inputs)
    two = keras.Model(inputs, [keras.layers.Dense(10)(flat), keras.layers.Dense(10)(flat)])
    with pytest.raises(ValueError, match="must have exactly one output.*it has 2"):
        Distiller(two, snn(), [ResponseKD()])


@pytest.mark.parametrize("losses, error, match", [
    ([], ValueError, "`losses` needs at least one distillation loss"),
    (["kl_divergence"], TypeError, "every item of `losses` must be a distillation loss"),
    ([keras.losses.KLDivergence()], TypeError, "of type KLDivergence"),
])
def test_losses_that_are_not_distillation_losses(losses, error, match):
    with pytest.raises(error, match=match):
        Distiller(ann(), snn(), losses)


def test_feature_kd_arguments():
    with pytest.raises(TypeError, match="`student_layer_name` must be a layer name"):
        FeatureKD("conv", None)
    with pytest.raises(ValueError,
                       match="`signal` must be one of 'rate', 'membrane'; got 'voltage'"):
        FeatureKD("conv", "lif", signal="voltage")
    with pytest.raises(ValueError, match="`adapter` must be 'auto', True or False; got 1"):
        FeatureKD("conv", "lif", adapter=1)
    with pytest.raises(TypeError, match="`teacher_layer_name` must be a layer name"):
        ResponseKD(teacher_layer_name=3)
    with pytest.raises(TypeError, match="`standardize` must be a bool, got 'yes'"):
        ResponseKD(standardize="yes")


def test_feature_kd_channels_differ_without_adapter():
    with pytest.raises(ValueError, match="teacher feature has 6 channels and the student's 3; "
                                         "use adapter='auto' or True"):
        Distiller(ann(), snn(), [FeatureKD("conv", "lif", adapter=False)])


def test_feature_maps_of_different_size():
    pooled = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(6, 3, name="valid"),
                               keras.layers.Flatten(), keras.layers.Dense(10)])
    for loss in (FeatureKD("valid", "lif"), AttentionTransfer("valid", "lif")):
        with pytest.raises(ValueError, match=r"\(None, 6, 6, 6\).*\(None, 8, 8, 3\)"):
            Distiller(pooled, snn(), [loss])


def test_membrane_signal_needs_return_membrane():
    with pytest.raises(ValueError, match="signal='membrane' needs the student layer 'lif' to "
                                         "return \\(spikes, membrane\\)"):
        Distiller(ann(), snn(), [FeatureKD("conv", "lif", signal="membrane")])


def test_student_feature_must_be_time_major():
    with pytest.raises(ValueError, match="student layer 'conv_s' must be time-major"):
        Distiller(ann(), snn(), [FeatureKD("conv", "conv_s")])


def test_spike_losses_need_spiking_layers():
    with pytest.raises(ValueError, match="teacher model 'ann' has no spiking layer"):
        Distiller(ann(), snn(), [SpikeCountKD()])
    with pytest.raises(ValueError, match="the teacher layer must output spike trains"):
        Distiller(ann(), snn(), [RateKD(teacher_layer_name="conv")])
    wide = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(5, 3, padding="same"),
                             layers.RepeatEncoder(4), neurons.LIF(name="lif_t"),
                             layers.TimeFolded(keras.layers.Flatten()),
                             layers.TimeFolded(keras.layers.Dense(10)), layers.MeanOverTime()])
    with pytest.raises(ValueError,
                       match=r"same features.*\(None, 4, 8, 8, 5\).*\(None, 2, 8, 8, 3\)"):
        Distiller(wide, snn(), [RateKD()])


def test_a_loss_is_bound_to_one_model_pair():
    loss = FeatureKD("conv", "lif")
    Distiller(ann(), snn(), [loss])
    with pytest.raises(ValueError, match="already built for teacher/student shapes"):
        Distiller(ann(), snn(timesteps=3), [loss])


def test_cache_of_another_distiller(rng):
    teacher, student = ann(), snn()
    plain = Distiller(teacher, student, [ResponseKD()])
    with_features = Distiller(teacher, student, [ResponseKD(), FeatureKD("conv", "lif")])
    with_features.compile("adam")
    x = rng.random((8, 8, 8, 1)).astype("float32")
    with pytest.raises(ValueError, match=r"the teacher cache lacks \['conv'\]"):
        with_features.fit(cache_teacher(plain, x), epochs=1, verbose=0)


def test_cache_teacher_arguments(rng):
    distiller = Distiller(ann(), snn(), [ResponseKD()])
    x = rng.random((8, 8, 8, 1)).astype("float32")
    with pytest.raises(TypeError, match="`x` must be the whole dataset as one array"):
        cache_teacher(distiller, [x])
    with pytest.raises(ValueError, match="already holds cached teacher outputs"):
        cache_teacher(distiller, cache_teacher(distiller, x))
    with pytest.raises(ValueError, match="`batch_size` must be >= 1"):
        cache_teacher(distiller, x, batch_size=0)
    with pytest.raises(TypeError, match="`distiller` must be a keras_snnkd.distill.Distiller"):
        cache_teacher(ann(), x)


def test_distill_chain_needs_two_models(rng):
    with pytest.raises(ValueError, match="`models` must list a teacher and at least one student"):
        distill_chain([ann()], rng.random((4, 8, 8, 1)), losses=[ResponseKD()])
