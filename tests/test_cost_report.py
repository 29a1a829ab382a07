"""Energy profiles, CostReport serialization and tables, and the plots."""

import json
import os

import numpy as np
import pytest

from keras_snnkd import cost, models
from keras_snnkd.cost import CostReport, EnergyProfile, plots, profiles

PRICES = {"mac": 2.0, "ac": 0.5, "add": 0.25, "neuron_update": 1.0}


@pytest.fixture(scope="module")
def report():
    snn = models.dense_snn(timesteps=3, input_shape=(8, 8, 1), hidden=(16,))
    x = np.random.default_rng(0).random((6, 8, 8, 1)).astype("float32")
    return cost.estimate(snn, x, raster_samples=2)


# -- profiles -------------------------------------------------------------------
def test_shipped_profiles_load_with_sources():
    names = profiles.available()
    assert {"cmos45nm", "cmos45nm_sram", "cmos45nm_int8", "loihi", "truenorth"} <= set(names)
    for name in names:
        profile = profiles.get(name)
        assert profile.name == name and profile.sources and profile.description
    assert profiles.get("cmos45nm").energy_pj == {"mac": 4.6, "ac": 0.9, "add": 0.9,
                                                  "neuron_update": 5.5}
    assert profiles.get("cmos45nm_sram").memory["pj_per_bit"] == 10 / 64
    assert profiles.get("loihi").energy_pj["ac"] == 23.6
    assert profiles.get("truenorth").energy_pj["ac"] == 26.0


def test_user_profile_file(tmp_path, report):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"name": "mine", "energy_pj": PRICES, "sources": ["me"]}))
    mine = report.with_profile(str(path))
    counts = mine.totals
    assert mine.energy_pj == pytest.approx(
        2.0 * counts["macs"] + 0.5 * counts["acs"] + 0.25 * counts["adds"]
        + counts["neuron_updates"])
    assert profiles.get({"name": "d", "energy_pj": PRICES}).energy_pj == PRICES
    assert profiles.get(mine.profile) is mine.profile


@pytest.mark.parametrize("config,message", [
    ({"name": "x", "energy_pj": {"mac": 1.0}}, r"missing \['ac', 'add', 'neuron_update'\]"),
    ({"name": "x", "energy_pj": {**PRICES, "mac": -1}}, r"`energy_pj\['mac'\]` must be .* >= 0"),
    ({"name": "x", "energy_pj": PRICES, "memory": {"pj_per_bit": 1}}, "missing"),
    ({"name": "x", "energy_pj": PRICES, "colour": "red"}, r"unknown \['colour'\]"),
    ({"energy_pj": PRICES}, r"missing \['name'\]"),
])
def test_bad_profiles(config, message):
    with pytest.raises(ValueError, match=message):
        EnergyProfile.from_dict(config)


def test_profile_lookup_errors(tmp_path):
    with pytest.raises(ValueError, match="Known profiles: cmos45nm, "):
        profiles.get("cmos_45")
    with pytest.raises(ValueError, match="does not exist"):
        profiles.get(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        profiles.get(str(bad))
    with pytest.raises(TypeError, match="`profile` must be"):
        profiles.get(4.6)


# -- report ---------------------------------------------------------------------
def test_report_round_trips_through_json(tmp_path, report):
    path = tmp_path / "report.json"
    text = report.to_json(path)
    assert json.loads(path.read_text()) == json.loads(text)
    loaded = CostReport.from_dict(json.loads(text))
    assert loaded.energy_pj == pytest.approx(report.energy_pj)
    assert loaded.totals == pytest.approx(report.totals)
    assert loaded.firing_rates == report.firing_rates
    data = report.to_dict()
    assert data["profile"]["name"] == "cmos45nm" and data["samples"] == 6
    assert data["ratio"] == pytest.approx(report.energy_pj / data["reference_energy_pj"])


def test_to_json_failure_leaves_no_file(tmp_path, report):
    target = tmp_path / "missing_dir" / "report.json"
    with pytest.raises(FileNotFoundError):
        report.to_json(target)
    assert not target.exists() and os.listdir(tmp_path) == []


def test_with_profile_keeps_counts(report):
    loihi = report.with_profile("loihi")
    assert loihi.totals["acs"] == report.totals["acs"]
    assert loihi.energy_pj == pytest.approx(
        4.6 * loihi.totals["macs"] + 23.6 * (loihi.totals["acs"] + loihi.totals["adds"])
        + 52.0 * loihi.totals["neuron_updates"])
    # the ANN side of a neuromorphic profile is priced on its reference, cmos45nm
    assert loihi.reference_profile.name == "cmos45nm"
    assert loihi.reference_energy_pj == pytest.approx(report.reference_energy_pj)


def test_tables(report):
    text = str(report)
    assert "total" in text and "dense_snn" in text and "ratio" in text
    assert report.table().row_count == len(report.layers) + 1
    lines = report.to_markdown().splitlines()
    assert lines[0].startswith("| Layer | Type |")
    assert len([l for l in lines if l.startswith("| ")]) == len(report.layers) + 2


# -- plots ----------------------------------------------------------------------
def test_plots_write_png(tmp_path, report):
    lif = next(iter(report.firing_rates))
    for name, draw in (("energy", lambda p: plots.plot_energy(report, p)),
                       ("rates", lambda p: plots.plot_firing_rates(report, p)),
                       ("raster", lambda p: plots.plot_raster(report, lif, p, sample=1))):
        path = tmp_path / f"{name}.png"
        draw(str(path))
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report.spike_trains[lif].shape == (2, 3, 16)


def test_raster_of_a_silent_layer(tmp_path):
    silent = CostReport("m", "cmos45nm", [], samples=1, timesteps=3,
                        spike_trains={"lif": np.zeros((1, 3, 5), "float32")})
    fig = plots.plot_raster(silent, "lif", str(tmp_path / "r.png"))
    assert "0 of 5 neurons fire" in fig.axes[0].get_title()


def test_plot_errors(tmp_path, report):
    with pytest.raises(ValueError, match="`layer` must be one of"):
        plots.plot_raster(report, "dense")
    with pytest.raises(ValueError, match="`sample` must be in"):
        plots.plot_raster(report, next(iter(report.firing_rates)), sample=5)
    with pytest.raises(ValueError, match="folder of `path`"):
        plots.plot_energy(report, str(tmp_path / "nowhere" / "e.png"))
    ann = CostReport("ann", "cmos45nm", [], samples=1, timesteps=1)
    with pytest.raises(ValueError, match="no spiking layer"):
        plots.plot_firing_rates(ann)
