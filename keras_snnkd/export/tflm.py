"""`TFLiteMicroModel`: runs a ``.tflite`` file in the TensorFlow Lite Micro interpreter."""

import contextlib
import os
import tempfile
import time

import numpy as np

from keras_snnkd.export._files import read_tflite
from keras_snnkd.export._quant import dequantize, quantize


@contextlib.contextmanager
def _captured_stderr(messages):
    """Collects what the C++ interpreter prints to stderr into ``messages``."""
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            messages.append(capture.read())


_MAX_ARENA = 256 << 20


def _scale_zero_point(details):
    params = details["quantization_parameters"]
    scales, zeros = params["scales"], params["zero_points"]
    return (float(scales[0]), int(zeros[0])) if len(scales) else (1.0, 0)


class TFLiteMicroModel:
    """A TFLite model in the TensorFlow Lite Micro (TFLM) interpreter (``tflite-micro``).

    TFLM runs the reference kernels a microcontroller runs, from one static
    tensor arena. ``arena_bytes`` is measured, not estimated: the smallest
    arena (to 16 bytes) in which the interpreter allocates and runs the model.

    Args:
        path: a ``.tflite`` file.
        arena_size: arena bytes to run with; default: the measured minimum.

    Example:
    >>> import os, tempfile, numpy as np, tensorflow as tf
    >>> double = tf.function(lambda x: tf.nn.relu(2.0 * x), input_signature=[tf.TensorSpec((1, 4))])
    >>> blob = tf.lite.TFLiteConverter.from_concrete_functions(
    ...     [double.get_concrete_function()], double).convert()
    >>> path = os.path.join(tempfile.mkdtemp(), "double.tflite")
    >>> _ = open(path, "wb").write(blob)
    >>> from keras_snnkd.export import TFLiteMicroModel
    >>> micro = TFLiteMicroModel(path)
    >>> micro.predict(np.array([[1.0, -1.0, 0.5, 2.0]], "float32")).tolist()
    [[2.0, 0.0, 1.0, 4.0]]
    >>> 0 < micro.arena_bytes < 10_000
    True
    """

    def __init__(self, path, arena_size=None):
        self.path, self.blob, _ = read_tflite("TFLiteMicroModel", "path", path)
        self.arena_bytes = self._minimum_arena()
        size = self.arena_bytes if arena_size is None else arena_size
        self.interpreter = self._interpreter(size)
        if self.interpreter is None:
            raise ValueError(
                f"TFLiteMicroModel: `arena_size`={arena_size} bytes is too small for "
                f"{self.path!r}; it needs at least {self.arena_bytes} bytes."
            )
        self.input = self.interpreter.get_input_details(0)
        self.output = self.interpreter.get_output_details(0)

    def _interpreter(self, size):
        """An interpreter with a ``size``-byte arena that has run once, or None."""
        from tflite_micro.python.tflite_micro import runtime

        messages = []
        try:
            with _captured_stderr(messages):
                interpreter = runtime.Interpreter.from_bytes(self.blob, arena_size=size)
                details = interpreter.get_input_details(0)
                interpreter.set_input(np.zeros(details["shape"], details["dtype"]), 0)
                interpreter.invoke()
        except RuntimeError as error:
            self._last_error = f"{error}: {messages[-1].strip() if messages else ''}"
            return None
        return interpreter

    def _minimum_arena(self):
        high = 16 * 1024
        while self._interpreter(high) is None:
            high *= 4
            if high > _MAX_ARENA:
                raise RuntimeError(
                    f"TFLiteMicroModel: {self.path!r} does not run in TensorFlow Lite "
                    f"Micro even with a {_MAX_ARENA >> 20} MiB arena ({self._last_error}). "
                    "TFLM has no dynamic-range (hybrid) kernels: export with "
                    "quantize=None or quantize='int8'."
                )
        low = 0
        while high - low > 16:
            middle = (low + high) // 2 // 16 * 16
            if self._interpreter(middle) is None:
                low = middle
            else:
                high = middle
        return high

    @property
    def input_shape(self):
        """The input shape without the batch axis."""
        return tuple(int(d) for d in self.input["shape"][1:])

    @property
    def input_quantization(self):
        """``(scale, zero_point)`` of the input; ``(1.0, 0)`` for a float input."""
        return _scale_zero_point(self.input)

    @property
    def output_quantization(self):
        """``(scale, zero_point)`` of the output; ``(1.0, 0)`` for a float output."""
        return _scale_zero_point(self.output)

    def predict(self, x, return_latency=False):
        """Runs every sample of ``x``; returns float outputs (and, with
        ``return_latency``, the median seconds per ``invoke`` on this CPU)."""
        x = np.asarray(x, "float32")
        if x.shape[1:] != self.input_shape:
            raise ValueError(
                f"TFLiteMicroModel.predict: `x` must have shape (N, "
                f"{', '.join(map(str, self.input_shape))}); got {x.shape}."
            )
        scale, zero = self.input_quantization
        out_scale, out_zero = self.output_quantization
        outputs, times = [], []
        for sample in x:
            self.interpreter.set_input(quantize(sample[None], self.input["dtype"], scale, zero), 0)
            start = time.perf_counter()
            self.interpreter.invoke()
            times.append(time.perf_counter() - start)
            outputs.append(dequantize(self.interpreter.get_output(0)[0], out_scale, out_zero))
        outputs = np.stack(outputs)
        return (outputs, float(np.median(times))) if return_latency else outputs
