"""Figures of a `CostReport`: per-layer energy (model vs ANN twin), firing
rates, and a spike raster. Each function returns a matplotlib `Figure` and,
given ``path``, saves it as PNG. Figures are built without pyplot: no
display is needed and the global matplotlib state is left alone.

Needs matplotlib (``pip install keras_snnkd[plot]``).
"""

import os

import numpy as np

from keras_snnkd.cost.report import si_format

__all__ = ["plot_energy", "plot_firing_rates", "plot_raster"]


def _figure(width, height):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "keras_snnkd.cost.plots needs matplotlib: pip install 'keras_snnkd[plot]'."
        ) from None
    fig = Figure(figsize=(width, height))
    return fig, fig.subplots()


def _save(fig, path):
    if path is not None:
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise ValueError(f"plot: the folder of `path` {path!r} does not exist.")
        fig.savefig(path, dpi=120, bbox_inches="tight", format="png")
    return fig


def plot_energy(report, path=None):
    """Per-layer energy bars: the model next to its ANN twin (log scale).

    Layers with no energy in either are left out. The title gives the totals,
    the reference (ANN/teacher if one was given) and the ratio.

    Args:
        report: a `keras_snnkd.cost.CostReport`.
        path: optional ``.png`` path to save to.

    Returns:
        The `matplotlib.figure.Figure`.

    Example:
    >>> import numpy as np
    >>> from keras_snnkd import cost, models
    >>> from keras_snnkd.cost import plots
    >>> snn = models.dense_snn(timesteps=2, input_shape=(8, 8, 1), hidden=(16,))
    >>> report = cost.estimate(snn, np.random.rand(4, 8, 8, 1).astype("float32"))
    >>> len(plots.plot_energy(report).axes)
    1
    """
    layers = [l for l in report.layers if l["energy_pj"] or l["ann_energy_pj"]]
    short = lambda t: t[len("TimeFolded("):-1] if t.startswith("TimeFolded(") else t
    names = [f"{l['name']}\n{short(l['type'])}" for l in layers]
    x = np.arange(len(layers))
    fig, ax = _figure(max(6.0, 0.9 * len(layers) + 2), 4.2)
    to_nj = lambda key: [l[key] / 1e3 for l in layers]
    ax.bar(x - 0.2, to_nj("ann_energy_pj"), 0.4, label="ANN twin (MACs)", color="#9aa5b1")
    ax.bar(x + 0.2, to_nj("energy_pj"), 0.4, label=f"{report.model_name}", color="#d9822b")
    ax.set_yscale("log")
    ax.set_xticks(x, names, rotation=35, ha="right")
    ax.set_ylabel("energy per inference (nJ)")
    ratio = "" if report.ratio is None else f", ratio {report.ratio:.3f}"
    what = "ANN twin" if report.reference is None else f"reference {report.reference.model_name}"
    ax.set_title(f"{report.model_name} [{report.profile.name}]: "
                 f"{si_format(report.energy_pj, 'J')} vs {what} "
                 f"{si_format(report.reference_energy_pj, 'J')}{ratio}", fontsize=10)
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def plot_firing_rates(report, path=None):
    """Bar chart of the firing rate of each spiking layer.

    Args:
        report: a `keras_snnkd.cost.CostReport` of a model with spiking layers.
        path: optional ``.png`` path to save to.

    Returns:
        The `matplotlib.figure.Figure`.
    """
    rates = report.firing_rates
    if not rates:
        raise ValueError(f"plot_firing_rates: report of {report.model_name!r} has no "
                         "spiking layer.")
    fig, ax = _figure(max(4.0, 0.9 * len(rates) + 2), 3.6)
    ax.bar(list(rates), list(rates.values()), color="#2b8cd9")
    for i, rate in enumerate(rates.values()):
        ax.text(i, rate, f"{rate:.3f}", ha="center", va="bottom", fontsize=9)
    ax.set_ylabel("spikes per neuron per step")
    ax.set_title(f"{report.model_name}: firing rate per layer "
                 f"(T={report.timesteps}, {report.samples} samples)", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def plot_raster(report, layer, path=None, sample=0, max_neurons=256):
    """Spike raster of one neuron layer: neurons (rows) against time steps (columns).

    Shows the first ``max_neurons`` neurons that fire at least once for the
    kept ``sample`` (see ``raster_samples`` of `estimate`), and says how many
    were left out.

    Args:
        report: a `keras_snnkd.cost.CostReport` made with ``raster_samples > 0``.
        layer: name of a spiking layer of the model.
        path: optional ``.png`` path to save to.
        sample: index of the kept sample to show.
        max_neurons: most neurons drawn.

    Returns:
        The `matplotlib.figure.Figure`.
    """
    if layer not in report.spike_trains:
        raise ValueError(
            f"plot_raster: `layer` must be one of the spiking layers with kept spike "
            f"trains {sorted(report.spike_trains)}; got {layer!r}."
        )
    trains = report.spike_trains[layer]
    if not 0 <= sample < len(trains):
        raise ValueError(f"plot_raster: `sample` must be in [0, {len(trains)}), got {sample}.")
    spikes = trains[sample]  # (T, neurons)
    active = np.flatnonzero(spikes.any(axis=0))
    shown = active[:max_neurons]
    fig, ax = _figure(6.0, 4.0)
    if len(shown):  # one cell per (neuron, step): black where the neuron fires
        ax.imshow(spikes[:, shown].T, aspect="auto", cmap="Greys", vmin=0, vmax=1,
                  interpolation="nearest", origin="lower")
    else:
        ax.text(0.5, 0.5, "no neuron fires", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_xticks(range(spikes.shape[0]))
    ax.set_xlabel("time step")
    ax.set_ylabel("neuron (active ones, in order)")
    ax.set_title(f"{layer}: {int(spikes.sum())} spikes, {len(active)} of {spikes.shape[1]} "
                 f"neurons fire; {len(shown)} shown", fontsize=10)
    return _save(fig, path)
