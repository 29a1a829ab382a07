"""`LiteRTModel`: runs a ``.tflite`` file in LiteRT (``ai_edge_litert``)."""

import numpy as np

from keras_snnkd.export._files import read_tflite
from keras_snnkd.export._quant import dequantize, quantize


class LiteRTModel:
    """A TFLite model in the LiteRT interpreter, fed and read in float.

    Inputs are quantized with the model's input parameters and outputs
    dequantized, so int8 and float models are used the same way. Samples run
    one at a time (the exported graphs have batch size 1).

    Args:
        path: a ``.tflite`` file.
        reference_kernels: use LiteRT's reference kernels instead of the
            default optimized ones (XNNPACK).

    Example:
    >>> import os, tempfile, numpy as np, tensorflow as tf
    >>> double = tf.function(lambda x: tf.nn.relu(2.0 * x), input_signature=[tf.TensorSpec((1, 4))])
    >>> blob = tf.lite.TFLiteConverter.from_concrete_functions(
    ...     [double.get_concrete_function()], double).convert()
    >>> path = os.path.join(tempfile.mkdtemp(), "double.tflite")
    >>> _ = open(path, "wb").write(blob)
    >>> from keras_snnkd.export import LiteRTModel
    >>> LiteRTModel(path).predict(np.array([[1.0, -1.0, 0.5, 2.0]], "float32")).tolist()
    [[2.0, 0.0, 1.0, 4.0]]
    """

    def __init__(self, path, reference_kernels=False):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        self.path = read_tflite("LiteRTModel", "path", path)[0]
        resolver = OpResolverType.BUILTIN_REF if reference_kernels else OpResolverType.AUTO
        self.interpreter = Interpreter(model_path=self.path,
                                       experimental_op_resolver_type=resolver)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]

    @property
    def input_shape(self):
        """The input shape without the batch axis."""
        return tuple(int(d) for d in self.input["shape"][1:])

    def predict(self, x):
        """Runs every sample of ``x`` (``(N, *input_shape)``); returns float outputs."""
        x = np.asarray(x, "float32")
        if x.shape[1:] != self.input_shape:
            raise ValueError(
                f"LiteRTModel.predict: `x` must have shape (N, "
                f"{', '.join(map(str, self.input_shape))}); got {x.shape}."
            )
        scale, zero = self.input["quantization"]
        out_scale, out_zero = self.output["quantization"]
        outputs = []
        for sample in x:
            self.interpreter.set_tensor(
                self.input["index"], quantize(sample[None], self.input["dtype"], scale, zero))
            self.interpreter.invoke()
            outputs.append(dequantize(self.interpreter.get_tensor(self.output["index"])[0],
                                      out_scale, out_zero))
        return np.stack(outputs)
