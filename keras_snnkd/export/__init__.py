"""Edge export: int8 TFLite that runs in TFLite Micro and on Arm Ethos-U NPUs,
C arrays for microcontrollers, NIR graphs, quantization-aware fine-tuning.

- `to_tflite`: static, batch-1 TFLite (float, dynamic-range or full int8 with
  exact 0/1 spikes); converts in a TensorFlow subprocess under other backends.
- `LiteRTModel`, `TFLiteMicroModel`: run a ``.tflite`` in LiteRT or in the
  TFLite Micro interpreter (with the measured tensor-arena size).
- `vela_report`: compile for an Ethos-U NPU with Vela; NPU share, memory, cycles.
- `to_c_array`: ``.h``/``.cc`` pair with the aligned model bytes.
- `to_nir`: a `nir.NIRGraph` of the model.
- `quantization_aware_finetune`: fine-tune with weights fake-quantized to
  the int8 grid (``keras.quantizers``, any backend).
- `prune`, `kernel_sparsity`: magnitude pruning with TensorFlow Model
  Optimization on a tf_keras mirror of the model (the ``tfmot`` extra).
- `cluster`: weight clustering (at most ``clusters`` values per kernel) with
  tfmot on the same mirror.
- `ExportPlan`, `StaticGraph`, `inspect_tflite`: the pieces underneath.

The modules that need TensorFlow import it only when used, so the plan, NIR and
QAT work under any backend.
"""

import importlib

_EXPORTS = {
    "ExportPlan": "plan",
    "StaticGraph": "static_graph",
    "to_tflite": "tflite",
    "inspect_tflite": "flatbuffer",
    "LiteRTModel": "litert",
    "TFLiteMicroModel": "tflm",
    "vela_report": "vela",
    "to_c_array": "c_array",
    "to_nir": "nir",
    "quantization_aware_finetune": "qat",
    "prune": "pruning",
    "kernel_sparsity": "pruning",
    "cluster": "clustering",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"keras_snnkd.export.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'keras_snnkd.export' has no attribute {name!r}")


def __dir__():
    return __all__
