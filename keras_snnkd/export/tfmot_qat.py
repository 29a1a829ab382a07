"""Quantization-aware training with tfmot on the tf_keras mirror (worker side).

Used by ``to_tflite(quantize="qat")``; runs in the tf_keras worker process of
`keras_snnkd.export.tfmot_bridge` and imports tfmot at module level.

tfmot's default 8-bit scheme fake-quantizes the Dense/Conv2D kernels
(per-channel for Conv2D) and their outputs (moving-average ranges). The
spiking layers get their own `QuantizeConfig`s:

- `SpikeQuantizeConfig` (neurons): the shifted membrane ``u = h - theta``
  is fake-quantized to 8 bits (asymmetric, moving-average range, zero
  exactly on the grid) before the Heaviside, so the spike is decided on the
  rounded membrane, ``s = H(q(u))`` — the int8-clean form the exporter
  emits (`keras_snnkd.export.StaticGraph`), whose spike is exact on the
  int8 grid of ``u``; the 0/1 output sits on a fixed ``[0, 1]`` grid.
- `PassThroughQuantizeConfig` (time folding, repeat, readout): reshapes
  and the weighted sum over time; nothing to quantize.

After fine-tuning, the float weights are copied back into the Keras 3 model,
which is exported with ``to_tflite(quantize="int8")`` (calibrated from the
representative data, as without QAT).
"""

import tensorflow_model_optimization as tfmot

from keras_snnkd.export.tf_keras_mirror import (
    CUSTOM_OBJECTS, MirrorFold, MirrorNeuron, MirrorReadout, MirrorRepeat, build_mirror,
    copy_back, finetune)
from keras_snnkd.export.tfmot_bridge import history_result

_quantizers = tfmot.quantization.keras.quantizers

LEARNING_RATE = 1e-4
"""Adam learning rate of the QAT fine-tuning (small: the model is trained)."""

BATCH_SIZE = 64


class SpikeQuantizeConfig(tfmot.quantization.keras.QuantizeConfig):
    """Fake-quantizes a `MirrorNeuron`'s shifted membrane (8 bits, moving
    average range) and puts its 0/1 spikes on a fixed ``[0, 1]`` grid."""

    def get_weights_and_quantizers(self, layer):
        return []

    def get_activations_and_quantizers(self, layer):
        return [(layer.membrane_activation, _quantizers.MovingAverageQuantizer(
            num_bits=8, per_axis=False, symmetric=False, narrow_range=False))]

    def set_quantize_weights(self, layer, quantize_weights):
        pass

    def set_quantize_activations(self, layer, quantize_activations):
        layer.membrane_activation = quantize_activations[0]

    def get_output_quantizers(self, layer):
        return [_quantizers.FixedQuantizer(num_bits=8, init_min=0.0, init_max=1.0,
                                           narrow_range=False)]

    def get_config(self):
        return {}


class PassThroughQuantizeConfig(tfmot.quantization.keras.QuantizeConfig):
    """No quantization: for the mirror's reshaping and readout layers."""

    def get_weights_and_quantizers(self, layer):
        return []

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        pass

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        return []

    def get_config(self):
        return {}


def _annotate(twin, original):
    annotate = tfmot.quantization.keras.quantize_annotate_layer
    if isinstance(twin, MirrorNeuron):
        return annotate(twin, SpikeQuantizeConfig())
    if isinstance(twin, (MirrorFold, MirrorRepeat, MirrorReadout)):
        return annotate(twin, PassThroughQuantizeConfig())
    return annotate(twin)


def tfmot_task(model, arrays, options, output):
    """Worker side: QAT of ``model`` on ``x, y`` (distilled from its own float
    logits), then the int8 TFLite export to ``options["path"]`` (``output``,
    the model file, is not written)."""
    from keras_snnkd.export.tflite import to_tflite

    mirror, pairs = build_mirror(model, _annotate)
    scope = {**CUSTOM_OBJECTS, "SpikeQuantizeConfig": SpikeQuantizeConfig,
             "PassThroughQuantizeConfig": PassThroughQuantizeConfig}
    with tfmot.quantization.keras.quantize_scope(scope):
        trainable = tfmot.quantization.keras.quantize_apply(mirror)
    history = finetune(trainable, arrays["x"], arrays["y"], arrays["teacher"],
                       options["epochs"], BATCH_SIZE, LEARNING_RATE, verbose=0)
    copy_back(pairs, trainable)
    to_tflite(model, options["path"], quantize="int8",
              representative_data=arrays["representative"], timesteps=options["timesteps"],
              search_ranges=options["search_ranges"])
    return history_result(history)
