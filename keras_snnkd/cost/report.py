"""`CostReport`: per-layer operation counts, energy and firing rates of one model."""

import io
import json
import os
import tempfile

from keras_snnkd.cost import profiles
from keras_snnkd.cost.layer_counts import ZERO

COUNT_FIELDS = tuple(ZERO)
COLUMNS = ("Layer", "Type", "Params", "Input", "MACs", "ACs", "Adds", "Neuron upd.", "Rate",
           "Energy", "ANN twin")


def si_format(value, unit=""):
    """``1234567 -> '1.23 M'``; with ``unit="J"`` a picojoule value becomes pJ/nJ/uJ/mJ."""
    if value is None:
        return "-"
    if unit == "J":  # value in pJ
        for scale, name in ((1e9, "mJ"), (1e6, "uJ"), (1e3, "nJ")):
            if abs(value) >= scale:
                return f"{value / scale:.3g} {name}"
        return f"{value:.3g} pJ"
    for scale, name in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {name}"
    return f"{value:.4g}" if value != int(value) else f"{int(value)}"


class CostReport:
    """Operation counts, energy and firing rates of one model on real input.

    Counts are per inference (one sample, all time steps) and independent of
    the energy profile; energies are priced with ``profile``
    (`keras_snnkd.cost.EnergyProfile`). Each layer record holds:

    - ``name``, ``type``, ``kind`` (synaptic / neuron / pool / other),
      ``params``, ``input`` (``"spikes"`` or ``"analog"``), ``steps`` (``T``
      if the layer sees a time axis, else 1);
    - this model's counts: ``macs``, ``acs`` (spike-triggered accumulates),
      ``adds`` (bias and pooling), ``neuron_updates``, ``spikes``,
      ``weight_reads``, ``membrane_reads``, ``membrane_writes``,
      ``firing_rate`` (spikes per neuron per step);
    - the ANN twin's counts (same layer, one pass, analog activations):
      ``ann_macs``, ``ann_adds``, ``ann_weight_reads``;
    - ``energy_pj`` (of which ``memory_pj``) and ``ann_energy_pj``.

    The reference energy is that of ``reference`` (a report of the ANN or
    teacher given to `estimate`) when there is one, else the sum of the ANN
    twin's per-layer energies; ``ratio = energy_pj / reference_energy_pj``.
    The ANN side is priced with the profile's ``reference`` profile when it
    names one (neuromorphic profiles compare against an ANN on 45 nm CMOS).

    Args:
        model_name: name of the estimated model.
        profile: an `EnergyProfile` or anything `profiles.get` accepts.
        layers: list of per-layer dicts with the identity and count fields above.
        samples: number of samples the counts were averaged over.
        timesteps: the model's number of time steps ``T``.
        reference: optional `CostReport` of the ANN/teacher on the same input.
        warnings: messages raised while estimating.
        spike_trains: optional ``{layer name: array (samples, T, neurons)}``
            kept for raster plots (not serialized).

    Example:
    >>> from keras_snnkd.cost import CostReport
    >>> layer = dict(name="fc", type="Dense", kind="synaptic", params=110,
    ...              input="spikes", steps=4, acs=200.0, adds=40.0, ann_macs=100.0,
    ...              ann_adds=10.0)
    >>> report = CostReport("toy", "cmos45nm", [layer], samples=1, timesteps=4)
    >>> round(report.energy_pj, 2), round(report.reference_energy_pj, 2)
    (216.0, 469.0)
    >>> round(report.ratio, 3)
    0.461
    """

    def __init__(self, model_name, profile, layers, samples, timesteps, reference=None,
                 warnings=(), spike_trains=None):
        self.model_name = model_name
        self.profile = profiles.get(profile)
        self.reference_profile = (self.profile if self.profile.reference is None
                                  else profiles.get(self.profile.reference))
        self.samples = samples
        self.timesteps = timesteps
        self.reference = reference
        self.warnings = list(warnings)
        self.spike_trains = dict(spike_trains or {})
        self.layers = [self._priced(layer) for layer in layers]

    def _priced(self, layer):
        record = {**{k: 0.0 for k in COUNT_FIELDS}, **layer}
        record["firing_rate"] = (record["spikes"] / record["neuron_updates"]
                                 if record["neuron_updates"] else None)
        counts = {k: record[k] for k in ("macs", "acs", "adds", "neuron_updates",
                                         "weight_reads", "membrane_reads",
                                         "membrane_writes")}
        energy = self.profile.energy(**counts)
        compute = self.profile.energy(**{k: counts[k] for k in
                                         ("macs", "acs", "adds", "neuron_updates")})
        record["energy_pj"] = energy
        record["memory_pj"] = energy - compute
        record["ann_energy_pj"] = self.reference_profile.energy(
            macs=record["ann_macs"], adds=record["ann_adds"],
            weight_reads=record["ann_weight_reads"])
        return record

    # -- summaries -------------------------------------------------------
    @property
    def totals(self):
        """Sums of the count and energy fields over the layers."""
        keys = (*COUNT_FIELDS, "params", "energy_pj", "memory_pj", "ann_energy_pj")
        totals = {k: sum(layer[k] for layer in self.layers) for k in keys}
        totals["firing_rate"] = (totals["spikes"] / totals["neuron_updates"]
                                 if totals["neuron_updates"] else None)
        return totals

    @property
    def energy_pj(self):
        """Energy of one inference in picojoules."""
        return self.totals["energy_pj"]

    @property
    def reference_energy_pj(self):
        """Energy of the reference (given ANN/teacher, else the ANN twin)."""
        if self.reference is not None:
            return self.reference.energy_pj
        return self.totals["ann_energy_pj"]

    @property
    def ratio(self):
        """``energy_pj / reference_energy_pj`` (< 1: cheaper than the reference)."""
        reference = self.reference_energy_pj
        return self.energy_pj / reference if reference else None

    @property
    def firing_rates(self):
        """``{neuron layer name: firing rate}``."""
        return {l["name"]: l["firing_rate"] for l in self.layers if l["kind"] == "neuron"}

    def with_profile(self, profile):
        """The same counts priced with another profile (reference too)."""
        profile = profiles.get(profile)
        reference = None if self.reference is None else self.reference.with_profile(
            profile.reference or profile)
        return CostReport(self.model_name, profile, self.layers, self.samples,
                          self.timesteps, reference, self.warnings, self.spike_trains)

    # -- serialization -----------------------------------------------------
    def to_dict(self):
        """A JSON-ready dict: profile, layers, totals, energies, ratio, warnings."""
        return {
            "model": self.model_name,
            "profile": self.profile.to_dict(),
            "samples": self.samples,
            "timesteps": self.timesteps,
            "layers": [dict(layer) for layer in self.layers],
            "totals": self.totals,
            "energy_pj": self.energy_pj,
            "reference_energy_pj": self.reference_energy_pj,
            "ratio": self.ratio,
            "reference": None if self.reference is None else self.reference.to_dict(),
            "warnings": list(self.warnings),
        }

    def to_json(self, path=None, indent=2):
        """Returns the report as JSON text; also writes it to ``path`` if given
        (atomically: a failure leaves no partial file)."""
        text = json.dumps(self.to_dict(), indent=indent)
        if path is not None:
            path = os.fspath(path)
            folder = os.path.dirname(os.path.abspath(path))
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(text)
                os.replace(tmp, path)
            except BaseException:
                os.unlink(tmp)
                raise
        return text

    @classmethod
    def from_dict(cls, data):
        """Rebuilds a report from `to_dict` output (spike trains are not kept)."""
        identity = ("name", "type", "kind", "params", "input", "steps", *COUNT_FIELDS)
        layers = [{k: layer[k] for k in identity if k in layer} for layer in data["layers"]]
        reference = data.get("reference")
        return cls(data["model"], data["profile"], layers, data["samples"],
                   data["timesteps"], None if reference is None else cls.from_dict(reference),
                   data.get("warnings", ()))

    # -- tables ------------------------------------------------------------
    def _rows(self, total_name):
        """Cells (strings) of every layer row, then of the totals row."""
        rows = [(layer, layer["name"], layer["type"]) for layer in self.layers]
        for layer, name, type_ in rows + [(self.totals, total_name, "")]:
            rate = layer["firing_rate"]
            counts = [si_format(layer[k]) for k in ("macs", "acs", "adds", "neuron_updates")]
            yield (name, type_, si_format(layer["params"]), layer.get("input") or "", *counts,
                   "" if rate is None else f"{rate:.3f}", si_format(layer["energy_pj"], "J"),
                   si_format(layer["ann_energy_pj"], "J"))

    def table(self):
        """The report as a `rich.table.Table` (one row per layer, then totals)."""
        from rich.table import Table

        table = Table(title=f"{self.model_name}: cost per inference "
                            f"(profile {self.profile.name}, T={self.timesteps}, "
                            f"{self.samples} samples)",
                      caption=self.summary())
        for i, column in enumerate(COLUMNS):
            table.add_column(column, justify="left" if i in (0, 1, 3) else "right")
        rows = list(self._rows("total"))
        for cells in rows[:-1]:
            table.add_row(*cells)
        table.add_section()
        table.add_row(*rows[-1], style="bold")
        return table

    def to_markdown(self):
        """The table as GitHub-flavoured Markdown (for docs and notes)."""
        lines = ["| " + " | ".join(COLUMNS) + " |",
                 "|" + "|".join(["---", "---", "--:", "---"] + ["--:"] * 7) + "|"]
        lines += ["| " + " | ".join(cells) + " |" for cells in self._rows("**total**")]
        return "\n".join(lines) + f"\n\n{self.summary()}.\n"

    def summary(self):
        """One line: energy, reference energy and their ratio."""
        what = "reference" if self.reference is not None else "ANN twin"
        ratio = self.ratio
        text = (f"energy {si_format(self.energy_pj, 'J')} per inference; {what} "
                f"{si_format(self.reference_energy_pj, 'J')}")
        if ratio:
            versus = f"{1 / ratio:.2f}x less" if ratio < 1 else f"{ratio:.2f}x more"
            text += f"; ratio {ratio:.3f} ({versus} than the {what})"
        return text

    def print(self, console=None):
        """Prints the table to ``console`` (a `rich.console.Console`; default:
        stdout, 140 columns wide when stdout is not a terminal)."""
        from rich.console import Console

        if console is None:
            console = Console()
            if not console.is_terminal:
                console = Console(width=140)
        console.print(self.table())
        for message in self.warnings:
            console.print(f"[yellow]warning:[/yellow] {message}")

    def __str__(self):
        from rich.console import Console

        buffer = io.StringIO()
        self.print(Console(file=buffer, width=140, color_system=None))
        return buffer.getvalue()

    def __repr__(self):
        return (f"<CostReport {self.model_name!r} profile={self.profile.name!r} "
                f"energy={si_format(self.energy_pj, 'J')} ratio={self.ratio}>")
