"""Spike-aware cost of the reference network, held against syops-counter.

1. Trains the reference SNN (`keras_snnkd.models.reference_snn`, T=4) and its
   ANN twin (`reference_ann`) on the bundled 4,000-image MNIST subset.
2. Runs `keras_snnkd.cost.estimate` on the 1,000 test images, with the ANN as
   the reference: writes the report (JSON, Markdown table) and the figures
   (per-layer energy, firing rates, spike raster) for docs/cost.md, and the
   energy under every shipped profile.
3. Peer check: copies the trained weights into the same network written in
   PyTorch + SpikingJelly (`LIFNode(tau=10, decay_input=False, v_reset=None)`
   is the same neuron as LIF(beta=0.9), up to float rounding and `>=` vs `>`)
   and counts it with syops-counter (`pip install --no-deps syops progress`;
   syops 0.0.5 imports SpikingJelly's old `clock_driven` package, so its
   names are aliased to `activation_based` here). Per-layer counts of both
   tools, and the spike totals of both runs, go into the JSON.
4. The same check on a second network whose 3x3 convolution reads LIF
   spikes directly (no pooling in between), where syops counts ACs too.

Usage (from the repository root):
    python benchmarks/cost_vs_peer.py                # full run (~3 min on 2 CPU cores)
    python benchmarks/cost_vs_peer.py --fast --out-dir /tmp/x --img-dir /tmp/x  # pipeline check
Writes OUT_DIR/cost_vs_peer.json, OUT_DIR/cost_reference_table.md and
IMG_DIR/cost_{energy,firing_rates,raster}.png.
"""

import argparse
import importlib.util
import json
import os
import sys
import time
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_snnkd import cost, datasets, layers, models, neurons  # noqa: E402
from keras_snnkd.cost import plots  # noqa: E402

SYOPS_HELP = "pip install --no-deps syops==0.0.5 progress"


def train(model, x, y, epochs, batch_size=64):
    model.compile(keras.optimizers.Adam(1e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    start = time.perf_counter()
    if epochs:
        model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=2)
    return time.perf_counter() - start


def import_syops():
    """Imports syops, aliasing SpikingJelly's removed `clock_driven` names."""
    if importlib.util.find_spec("syops") is None:
        raise ImportError(f"syops is not installed ({SYOPS_HELP})")
    if importlib.util.find_spec("spikingjelly") is None:
        raise ImportError("spikingjelly is not installed (pip install --no-deps spikingjelly)")
    if "spikingjelly.clock_driven" not in sys.modules \
            and importlib.util.find_spec("spikingjelly.clock_driven") is None:
        from spikingjelly.activation_based import functional, neuron, surrogate

        legacy = types.ModuleType("spikingjelly.clock_driven.neuron")
        for name in ("IFNode", "LIFNode", "ParametricLIFNode"):
            setattr(legacy, name, getattr(neuron, name))
            setattr(legacy, "MultiStep" + name, getattr(neuron, name))
        package = types.ModuleType("spikingjelly.clock_driven")
        package.neuron, package.functional, package.surrogate = legacy, functional, surrogate
        sys.modules.update({"spikingjelly.clock_driven": package,
                            "spikingjelly.clock_driven.neuron": legacy,
                            "spikingjelly.clock_driven.functional": functional,
                            "spikingjelly.clock_driven.surrogate": surrogate})
    import syops.engine

    return syops.engine


def torch_twin(model, timesteps):
    """``model`` rebuilt in PyTorch + SpikingJelly with its weights, one torch
    module per counted Keras layer (same name).

    Plain ``torch.nn`` layers (syops hooks exact types) run on ``(T*B, ...)``
    for `TimeFolded` layers and once on ``(B, ...)`` before `RepeatEncoder`;
    "same" padding is applied TensorFlow-style (odd extra zero after)."""
    import torch
    from spikingjelly.activation_based import neuron

    from keras_snnkd.cost import graph
    from keras_snnkd.cost.fanout import padding_amount

    def convert(core, in_shape):
        if isinstance(core, keras.layers.Conv2D):
            kernel, bias = core.get_weights()
            pads = [padding_amount(n, k, s, 1, core.padding)
                    for n, k, s in zip(in_shape[1:3], core.kernel_size, core.strides)]
            symmetric = all(before == after for before, after in pads)
            module = torch.nn.Conv2d(kernel.shape[2], kernel.shape[3], core.kernel_size,
                                     stride=core.strides,
                                     padding=[p[0] for p in pads] if symmetric else 0)
            module.weight.data = torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy())
            module.bias.data = torch.from_numpy(bias)
            if symmetric:
                return module, module
            pad = (*pads[1], *pads[0])  # torch order: W then H; syops then sees the pads
            return module, lambda h, m=module: m(torch.nn.functional.pad(h, pad))
        if isinstance(core, keras.layers.Dense):
            kernel, bias = core.get_weights()
            module = torch.nn.Linear(*kernel.shape)
            module.weight.data = torch.from_numpy(kernel.T.copy())
            module.bias.data = torch.from_numpy(bias)
            return module, module
        if isinstance(core, keras.layers.AveragePooling2D):
            module = torch.nn.AvgPool2d(core.pool_size, core.strides)
            return module, module
        if isinstance(core, keras.layers.Flatten):  # Keras flattens (H, W, C)
            return None, lambda h: h.permute(0, 2, 3, 1).flatten(1) if h.dim() == 4 else h
        raise NotImplementedError(f"no PyTorch twin for {type(core).__name__}")

    class Twin(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.steps = []
            for layer in model.layers:
                name = layer.name
                if isinstance(layer, layers.RepeatEncoder):
                    self.steps.append(("repeat", None))
                elif isinstance(layer, layers.MeanOverTime):
                    self.steps.append(("mean", None))
                elif isinstance(layer, neurons.SpikingNeuron):
                    setattr(self, name, neuron.LIFNode(
                        tau=1.0 / (1.0 - layer.beta), decay_input=False,
                        v_threshold=layer.threshold, v_reset=None, step_mode="m"))
                    self.steps.append(("neuron", name))
                else:
                    in_shape = graph.input_tensors(layer)[0].shape
                    folded = isinstance(layer, layers.TimeFolded)
                    module, fn = convert(graph.inner(layer),
                                         (None, *in_shape[2:]) if folded else in_shape)
                    if module is not None:
                        setattr(self, name, module)
                    self.steps.append(("folded" if folded else "plain", fn))

        def forward(self, x):  # x: (B, H, W, C) numpy layout -> NCHW
            h = x.permute(0, 3, 1, 2)
            batch = h.shape[0]
            for kind, item in self.steps:
                if kind == "repeat":
                    h = h.unsqueeze(0).repeat(timesteps, *([1] * h.dim()))
                elif kind == "mean":
                    h = h.mean(0)
                elif kind == "neuron":
                    h = getattr(self, item)(h)
                elif kind == "folded":
                    h = item(h.flatten(0, 1))
                    h = h.view(timesteps, batch, *h.shape[1:])
                else:
                    h = item(h)
            return h

    return Twin().eval()


def peer_counts(model, x, timesteps, batch_size=100):
    """syops's per-module (ACs, MACs) per sample, the twin's spikes per sample
    per neuron layer, its predictions, and the seconds syops took."""
    import torch
    from spikingjelly.activation_based import functional

    engine = import_syops()
    twin = torch_twin(model, timesteps)
    neurons = [name for kind, name in twin.steps if kind == "neuron"]
    spikes = dict.fromkeys(neurons, 0.0)
    hooks = [getattr(twin, n).register_forward_hook(
        lambda m, i, o, n=n: spikes.__setitem__(n, spikes[n] + float(o.sum())))
        for n in neurons]
    engine.add_syops_counting_methods(twin)
    with open(os.devnull, "w") as quiet:
        twin.start_syops_count(ost=quiet, verbose=False, ignore_list=[])
    logits = []
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            logits.append(twin(torch.from_numpy(x[i:i + batch_size])).numpy())
            functional.reset_net(twin)
    seconds = time.perf_counter() - start
    samples = twin.__batch_counter__
    counts = {}
    for name, module in twin.named_children():
        _, acs, macs, _ = module.__syops__ / samples
        counts[name] = {"syops_acs": float(acs), "syops_macs": float(macs)}
    twin.stop_syops_count()
    for hook in hooks:
        hook.remove()
    return counts, {k: v / samples for k, v in spikes.items()}, np.concatenate(logits), \
        seconds


def compare(model, report, x, timesteps):
    """Our per-layer counts next to syops's on the PyTorch twin."""
    try:
        peer, peer_spikes, peer_logits, seconds = peer_counts(model, x, timesteps)
    except ImportError as error:
        return {"tool": "syops-counter", "status": f"unavailable: {error}"}
    logits = keras.ops.convert_to_numpy(model.predict(x, verbose=0))
    fields = ("kind", "input", "macs", "acs", "adds", "neuron_updates", "spikes")
    rows = [{"layer": l["name"], **{k: l[k] for k in fields}, **peer[l["name"]]}
            for l in report.layers if l["name"] in peer]
    return {
        "tool": "syops-counter 0.0.5 (syops.engine per-module hooks)",
        "status": "ok",
        "layers": rows,
        "spikes_per_sample": {
            "keras": {l["name"]: l["spikes"] for l in report.layers if l["kind"] == "neuron"},
            "torch": peer_spikes},
        "prediction_agreement": float(np.mean(peer_logits.argmax(1) == logits.argmax(1))),
        "seconds": seconds,
    }


def spike_conv_snn(timesteps):
    """A second network whose convolution reads spikes directly (3x3,
    "same"), so syops counts it as ACs too: shows the padding effect."""
    fold = layers.TimeFolded
    return keras.Sequential([
        keras.Input((28, 28, 1)), keras.layers.Conv2D(16, 3, padding="same"),
        layers.RepeatEncoder(timesteps), neurons.LIF(beta=0.9),
        fold(keras.layers.Conv2D(32, 3, padding="same")), neurons.LIF(beta=0.9),
        fold(keras.layers.Flatten()), fold(keras.layers.Dense(10)),
        layers.MeanOverTime()], name="spike_conv_snn")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true",
                        help="pipeline check: untrained networks, 16 random images")
    parser.add_argument("--out-dir", default=os.path.join(ROOT, "benchmarks", "results"))
    parser.add_argument("--img-dir", default=os.path.join(ROOT, "docs", "img"))
    parser.add_argument("--timesteps", type=int, default=4)
    args = parser.parse_args(argv)
    for folder in (args.out_dir, args.img_dir):
        os.makedirs(folder, exist_ok=True)

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    if args.fast:  # a pipeline check: untrained networks on 16 random images
        x = x_test = rng.random((16, 28, 28, 1)).astype("float32")
        y = y_test = rng.integers(0, 10, 16)
        epochs = 0
    else:
        (x, y), (x_test, y_test) = datasets.load_mnist_subset()
        epochs = 3
        order = rng.permutation(len(x))  # the split is sorted by digit
        x, y = x[order], y[order]

    snn = models.reference_snn(timesteps=args.timesteps)
    ann = models.reference_ann()
    train_s = {"snn": train(snn, x, y, epochs), "ann": train(ann, x, y, epochs)}
    accuracy = None  # untrained networks (--fast): not worth measuring
    if epochs:
        accuracy = {"snn": float(snn.evaluate(x_test, y_test, verbose=0)[1]),
                    "ann": float(ann.evaluate(x_test, y_test, verbose=0)[1])}
        print(f"test accuracy: SNN {accuracy['snn']:.4f}, ANN {accuracy['ann']:.4f}")

    start = time.perf_counter()
    report = cost.estimate(snn, x_test, profile="cmos45nm", ann=ann, batch_size=100)
    estimate_s = time.perf_counter() - start
    report.print()
    table = report.to_markdown()
    with open(os.path.join(args.out_dir, "cost_reference_table.md"), "w") as f:
        f.write(table)
    by_profile = {}
    for name in cost.profiles.available():
        priced = report.with_profile(name)
        by_profile[name] = {"energy_pj": priced.energy_pj,
                            "ann_teacher_energy_pj": priced.reference_energy_pj,
                            "ratio_to_teacher": priced.ratio,
                            "ann_twin_energy_pj": priced.totals["ann_energy_pj"]}
    lif_names = list(report.firing_rates)
    plots.plot_energy(report, os.path.join(args.img_dir, "cost_energy.png"))
    plots.plot_firing_rates(report, os.path.join(args.img_dir, "cost_firing_rates.png"))
    plots.plot_raster(report, lif_names[-1], os.path.join(args.img_dir, "cost_raster.png"))

    peer_result = compare(snn, report, x_test, args.timesteps)
    spike_conv = spike_conv_snn(args.timesteps)
    train_s["spike_conv_snn"] = train(spike_conv, x, y, epochs)
    spike_conv_report = cost.estimate(spike_conv, x_test, batch_size=100)
    spike_conv_peer = compare(spike_conv, spike_conv_report, x_test, args.timesteps)
    print("peer:", peer_result["status"])

    result = {
        "benchmark": "cost_vs_peer",
        "backend": keras.backend.backend(),
        "fast": args.fast,
        "config": {"timesteps": args.timesteps, "train_images": len(x), "epochs": epochs,
                   "test_images": len(x_test)},
        "accuracy": accuracy,
        "seconds": {"train": train_s, "estimate": estimate_s},
        "report": report.to_dict(),
        "by_profile": by_profile,
        "peer": peer_result,
        "spike_conv_snn": {"report": spike_conv_report.to_dict(), "peer": spike_conv_peer},
    }
    with open(os.path.join(args.out_dir, "cost_vs_peer.json"), "w") as f:
        json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
