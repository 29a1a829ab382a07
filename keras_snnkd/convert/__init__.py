"""ANN to SNN conversion.

`ann_to_snn` turns a trained ReLU or `keras_snnkd.layers.StepReLU` network into
a multi-step SNN of this library's layers (RepeatEncoder, IF/LIF, TimeFolded,
MeanOverTime), which can then be saved, distilled, costed and exported like
any other. Its parts are public too:

- `layer_chain`: the layers of a Sequential/functional model as one chain;
- `nonlinearity_of`: the activation a layer applies, as conversion sees it;
- `fold_batch_norm`: BatchNormalization folded into the kernel and bias before it;
- `calibrate_thresholds`: ReLU thresholds from activation percentiles.
"""

from keras_snnkd.convert.ann_to_snn import ann_to_snn
from keras_snnkd.convert.batch_norm_folding import fold_batch_norm
from keras_snnkd.convert.layer_chain import layer_chain
from keras_snnkd.convert.nonlinearity import Nonlinearity, nonlinearity_of
from keras_snnkd.convert.threshold_calibration import calibrate_thresholds

__all__ = [
    "ann_to_snn",
    "calibrate_thresholds",
    "fold_batch_norm",
    "layer_chain",
    "nonlinearity_of",
    "Nonlinearity",
]
