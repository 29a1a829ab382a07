"""keras_snnkd: spiking neural networks in Keras 3, trained by distillation,
exported to the edge. Runs on TensorFlow, JAX and PyTorch (``KERAS_BACKEND``).

``import keras_snnkd`` imports Keras and every subpackage that defines
serializable objects, so ``keras.saving.load_model("snn.keras")`` works after
it with nothing else imported. Pick the backend (``KERAS_BACKEND``) before this
import; the ``snnkd`` command line does it for you (``snnkd --backend jax``).

- `keras_snnkd.neurons`: IF, LIF, ParametricLIF layers.
- `keras_snnkd.surrogates`: Heaviside spikes with surrogate gradients.
- `keras_snnkd.layers`: encoders, readouts, time folding, StepReLU.
- `keras_snnkd.models`: the reference networks.
- `keras_snnkd.datasets`: offline datasets.
- `keras_snnkd.monitor`: firing-rate probes.
- `keras_snnkd.callbacks`: `CompileOnce` (one `torch.compile` of a training step
  that calls ``zero_grad()``).
- `keras_snnkd.distill`: `Distiller` (fit with ANN or SNN teachers), KD losses, chains.
- `keras_snnkd.convert`: ANN to SNN conversion (StepReLU, threshold calibration, leak).
- `keras_snnkd.cost`: spike-aware operation and energy estimates, reports, plots.
- `keras_snnkd.export`: int8 TFLite, TFLite Micro, Ethos-U (Vela), C arrays, NIR
  (TensorFlow is imported only when an export runs).
- ``snnkd``: the command line (`keras_snnkd.cli`).

Importing keras_snnkd tunes seven things of the process for CPU training, each
with its conditions and opt-out:

- under JAX, it adds XLA's YNNPACK flag to ``XLA_FLAGS`` (2.4x faster
  convolution training steps; `keras_snnkd.backend.xla_cpu`);
- on glibc, it raises malloc's mmap and trim thresholds, so large tensors reuse
  freed memory instead of faulting in fresh pages at every step (20-30 %
  faster training steps on every backend; `keras_snnkd.backend.cpu_malloc`);
- under PyTorch, ``torch.compile`` compiles what Keras's training step calls,
  not the step's own frame and its wrapper's, so Dynamo neither traces the
  forward pass twice nor compiles the whole step again at its second call
  (reference SNN at T = 32: second step 0.5 s instead of 53 s, first step
  60 s instead of 67 s, in a probe; `keras_snnkd.backend.torch_compile`);
- under PyTorch, Keras's loss, loss tracker and metrics run as plain PyTorch in
  that step instead of as graphs compiled for tensors of the output's size
  (reference SNN: first step 20 s instead of 25 s at T = 4, 29 s instead of 33 s
  at T = 32, with cold caches, in paired probes; `keras_snnkd.backend.torch_eager_loss`);
- under PyTorch on a CPU-only machine, TorchInductor's probe of the CPU's vector
  instructions runs in a background thread from the first compile on, while
  Dynamo traces (first step at T = 4: 30 s instead of 34 s with cold caches, in
  paired probes; `keras_snnkd.backend.torch_isa_probe`);
- under PyTorch, a compiled neuron step's backward graph is traced once, not
  once per time step: ``torch.compile`` keys it by where each step's gradient
  starts in the stacked gradient, and now only by that start's alignment
  (reference SNN at T = 32: first step 32 s instead of 46 s with cold caches,
  in paired probes; `keras_snnkd.backend.torch_region_tangents`);
- under PyTorch, TorchInductor compiles a graph's C++ kernels in one file per
  compile worker instead of one file per kernel, each of which loads its
  precompiled header again (reference SNN: first step 24 s instead of 30 s at
  T = 4, 32 s instead of 38 s at T = 32, with cold caches, in paired probes;
  `keras_snnkd.backend.torch_kernel_batches`).
"""

from keras_snnkd import backend
from keras_snnkd.backend import (cpu_malloc, torch_compile, torch_eager_loss,
                                 torch_isa_probe, torch_kernel_batches,
                                 torch_region_tangents, xla_cpu)

xla_cpu.configure()  # before anything computes: XLA reads its flags once
cpu_malloc.configure()
torch_compile.configure()
torch_eager_loss.configure()
torch_isa_probe.configure()
torch_region_tangents.configure()
torch_kernel_batches.configure()
backend.preload()

from keras_snnkd import (  # noqa: E402
    callbacks,
    convert,
    cost,
    datasets,
    distill,
    export,
    layers,
    models,
    monitor,
    neurons,
    surrogates,
)

__version__ = "0.1.0"

__all__ = ["callbacks", "convert", "cost", "datasets", "distill", "export", "layers", "models",
           "monitor", "neurons", "surrogates", "__version__"]
