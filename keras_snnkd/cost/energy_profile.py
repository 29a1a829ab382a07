"""`EnergyProfile`: energy prices of the operations the cost estimator counts."""

import dataclasses
import json
import math
import os

OPERATIONS = ("mac", "ac", "add", "neuron_update")
MEMORY_FIELDS = ("pj_per_bit", "weight_bits", "membrane_bits")


def _check_price(owner, where, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value < 0:
        raise ValueError(
            f"{owner}: `{where}` must be a finite number >= 0 (picojoules or bits); "
            f"got {value!r}."
        )
    return float(value)


def _check_keys(owner, where, given, required, optional=()):
    if not isinstance(given, dict):
        raise TypeError(f"{owner}: `{where}` must be a dict, got {type(given).__name__}.")
    missing = [k for k in required if k not in given]
    unknown = [k for k in given if k not in (*required, *optional)]
    if missing or unknown:
        raise ValueError(
            f"{owner}: `{where}` must have the keys {list(required)}"
            + (f" (optional: {list(optional)})" if optional else "")
            + f"; missing {missing}, unknown {unknown}."
        )


@dataclasses.dataclass(frozen=True)
class EnergyProfile:
    """Energy per operation (and optionally per memory bit) of one hardware target.

    The energy of a layer is

    ``E = macs*e_mac + acs*e_ac + adds*e_add + neuron_updates*e_neuron``
    ``    + e_bit * (weight_reads*b_w + (membrane_reads + membrane_writes)*b_m)``

    where the memory term is present only when ``memory`` is given. Profiles
    are data: `from_dict` reads the JSON schema of the files in
    ``keras_snnkd/cost/profiles/``::

        {"name": ..., "description": ...,
         "energy_pj": {"mac": ..., "ac": ..., "add": ..., "neuron_update": ...},
         "memory": null | {"pj_per_bit": ..., "weight_bits": ..., "membrane_bits": ...},
         "reference": null | "<profile the ANN reference is priced with>",
         "sources": [...], "notes": ...}

    Args:
        name: profile name.
        energy_pj: dict of picojoules per operation with the keys ``mac``
            (multiply-accumulate), ``ac`` (spike-triggered accumulate),
            ``add`` (bias and pooling additions) and ``neuron_update`` (one
            neuron, one time step).
        memory: None, or a dict with ``pj_per_bit``, ``weight_bits`` and
            ``membrane_bits``.
        description: one line saying what the profile models.
        reference: name (or path) of the profile the ANN twin or teacher is
            priced with, for hardware that cannot run an ANN (a neuromorphic
            chip is compared with an ANN on CMOS); None: this profile.
        sources: the publications the figures come from.
        notes: assumptions behind the figures.

    Example:
    >>> from keras_snnkd.cost import EnergyProfile
    >>> p = EnergyProfile("toy", {"mac": 4.0, "ac": 1.0, "add": 1.0, "neuron_update": 2.0})
    >>> p.energy(macs=10, acs=5)
    45.0
    """

    name: str
    energy_pj: dict
    memory: dict = None
    description: str = ""
    reference: str = None
    sources: tuple = ()
    notes: str = ""

    def __post_init__(self):
        owner = "EnergyProfile"
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"{owner}: `name` must be a non-empty string, got {self.name!r}.")
        _check_keys(owner, "energy_pj", self.energy_pj, OPERATIONS)
        prices = {k: _check_price(owner, f"energy_pj[{k!r}]", self.energy_pj[k])
                  for k in OPERATIONS}
        object.__setattr__(self, "energy_pj", prices)
        if self.memory is not None:
            _check_keys(owner, "memory", self.memory, MEMORY_FIELDS)
            memory = {k: _check_price(owner, f"memory[{k!r}]", self.memory[k])
                      for k in MEMORY_FIELDS}
            object.__setattr__(self, "memory", memory)
        if self.reference is not None and not isinstance(self.reference, str):
            raise TypeError(f"{owner}: `reference` must be a profile name or None, got "
                            f"{self.reference!r}.")
        if isinstance(self.sources, str) or not all(isinstance(s, str) for s in self.sources):
            raise TypeError(f"{owner}: `sources` must be a list of strings, got {self.sources!r}.")
        object.__setattr__(self, "sources", tuple(self.sources))

    def energy(self, macs=0, acs=0, adds=0, neuron_updates=0, weight_reads=0,
               membrane_reads=0, membrane_writes=0):
        """Energy in picojoules of the given operation counts (formula above)."""
        e = self.energy_pj
        total = (macs * e["mac"] + acs * e["ac"] + adds * e["add"]
                 + neuron_updates * e["neuron_update"])
        if self.memory is not None:
            m = self.memory
            bits = (weight_reads * m["weight_bits"]
                    + (membrane_reads + membrane_writes) * m["membrane_bits"])
            total += bits * m["pj_per_bit"]
        return float(total)

    def to_dict(self):
        """The profile in the JSON schema of `from_dict`."""
        return {"name": self.name, "description": self.description,
                "energy_pj": dict(self.energy_pj),
                "memory": None if self.memory is None else dict(self.memory),
                "reference": self.reference, "sources": list(self.sources),
                "notes": self.notes}

    @classmethod
    def from_dict(cls, config):
        """Builds a profile from a dict in the JSON schema (see the class doc)."""
        _check_keys("EnergyProfile", "profile", config, ("name", "energy_pj"),
                    ("description", "memory", "reference", "sources", "notes"))
        return cls(**config)

    @classmethod
    def from_file(cls, path):
        """Reads a profile from a JSON file."""
        path = os.fspath(path)
        try:
            with open(path, encoding="utf-8") as f:
                config = json.load(f)
        except json.JSONDecodeError as error:
            raise ValueError(f"EnergyProfile: {path!r} is not valid JSON: {error}.") from None
        return cls.from_dict(config)
