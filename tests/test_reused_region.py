"""`keras_snnkd.backend.reused_region`: a neuron's time step compiled once, not T times."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_snnkd.backend import reused_region
from keras_snnkd.neurons import IF, LIF, ParametricLIF

from conftest import to_numpy

TORCH = keras.backend.backend() == "torch"
needs_torch = pytest.mark.skipif(
    not TORCH, reason="torch.compile's nested compile regions; under XLA the region is "
                      "the function itself (test_xla_region_is_the_function)")


def _square(x):
    return x * x


def test_region_returns_what_the_function_returns(rng):
    x = rng.normal(size=(3, 2)).astype("float32")
    np.testing.assert_array_equal(to_numpy(reused_region(_square)(ops.convert_to_tensor(x))),
                                  x * x)


@pytest.mark.skipif(TORCH, reason="PyTorch wraps the function (test_time_step_is_traced_"
                                  "at_most_twice_whatever_T)")
def test_xla_region_is_the_function():
    assert reused_region(_square) is _square


def _region_calls(layer, x):
    """Dynamo's graph of ``layer(x)``: (calls of a compiled region, distinct regions)."""
    import torch
    from torch._dynamo.testing import CompileCounterWithBackend

    layer(x)  # builds outside the trace, as Model.fit does
    torch._dynamo.reset()
    counter = CompileCounterWithBackend("eager")
    torch.compile(layer, backend=counter, fullgraph=True)(x)
    (graph,) = counter.graphs
    calls = [n for n in graph.graph.nodes
             if n.target is torch.ops.higher_order.invoke_subgraph]
    return len(calls), len({id(getattr(graph, n.args[0].target)) for n in calls})


@needs_torch
@pytest.mark.parametrize("make", [lambda: LIF(beta=0.9), IF, ParametricLIF,
                                  lambda: LIF(beta=0.9, trainable_threshold=True)])
@pytest.mark.parametrize("timesteps", [5, 17])
def test_time_step_is_traced_at_most_twice_whatever_T(rng, make, timesteps):
    # Inline, torch.compile traced and compiled T copies of the step and fused them
    # into one kernel whose compile and run times grew faster than T. A region is
    # traced once per distinct input: twice when the first step's membrane (zeros,
    # no gradient) differs from the later ones.
    x = ops.convert_to_tensor(rng.normal(1.0, 1.0, size=(2, timesteps, 3)).astype("float32"))
    calls, regions = _region_calls(make(), x)
    assert calls >= timesteps - 1
    assert 1 <= regions <= 2


@needs_torch
def test_more_spiking_layers_than_torchs_default_region_cap_compile(rng):
    # One region cache entry per layer and shape: torch's default cap of 8 entries
    # raised a RuntimeError for a ninth spiking layer of another width.
    import torch

    layers = [keras.Input((4, 3))]
    for width in range(2, 12):
        layers += [keras.layers.Dense(width), LIF(beta=0.9)]
    model = keras.Sequential(layers)
    x = ops.convert_to_tensor(rng.normal(1.0, 1.0, size=(2, 4, 3)).astype("float32"))
    torch._dynamo.reset()
    compiled = torch.compile(model, backend="eager", fullgraph=True)
    np.testing.assert_array_equal(to_numpy(compiled(x)), to_numpy(model(x)))


@needs_torch
@pytest.mark.parametrize("make", [lambda: LIF(beta=0.9, trainable_threshold=True),
                                  lambda: ParametricLIF(reset="zero", detach_reset=True),
                                  lambda: LIF.from_snntorch(beta=0.8, learn_threshold=True)])
def test_compiled_regions_give_eager_spikes_and_gradients(rng, make):
    # aot_eager runs the regions' forward and backward graphs as AOTAutograd builds
    # them, without Inductor's code generation (whose fused float arithmetic may
    # differ in the last bit).
    import torch

    layer = make()
    x0 = rng.normal(1.0, 1.0, size=(3, 9, 4)).astype("float32")
    weights = torch.linspace(-1.0, 1.0, x0.size).reshape(x0.shape)
    layer(ops.convert_to_tensor(x0))

    def spikes_and_grads(x):
        x = x.detach().requires_grad_(True)
        spikes = layer(x)
        params = [w.value for w in layer.trainable_weights]
        grads = torch.autograd.grad(torch.sum(spikes * weights), [x] + params)
        return spikes, grads

    x = torch.from_numpy(x0)
    eager_spikes, eager_grads = spikes_and_grads(x)
    torch._dynamo.reset()
    spikes, grads = torch.compile(spikes_and_grads, backend="aot_eager")(x)
    torch.testing.assert_close(spikes, eager_spikes, rtol=0, atol=0)
    assert len(grads) == len(eager_grads) >= 2
    for grad, eager in zip(grads, eager_grads):
        assert torch.count_nonzero(eager) > 0
        torch.testing.assert_close(grad, eager, rtol=1e-5, atol=1e-6)
