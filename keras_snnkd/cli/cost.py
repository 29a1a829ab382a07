"""``snnkd cost``: spike-aware operations and energy of a ``.keras`` (`keras_snnkd.cost`)."""

import os

import click

from keras_snnkd.cli.config import config_option
from keras_snnkd.cli.files import (check_input, check_output, data_options, load_data, load_model,
                                   subset)
from keras_snnkd.cli.output import console, header, write_json
from keras_snnkd.cost import estimate, plots, profiles


@click.command(short_help="Spike-aware operations and energy of a .keras.")
@config_option
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.option("--ann", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Reference model (e.g. the ANN teacher) estimated on the same images "
                   "[default: the model's own ANN twin].")
@data_options
@click.option("--samples", type=click.IntRange(1), default=1000, show_default=True,
              help="Test images the model runs on.")
@click.option("--profile", default="cmos45nm", show_default=True,
              help=f"Energy profile: {', '.join(profiles.available())}, or a JSON file.")
@click.option("--plots", "plot_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for cost_energy.png, cost_firing_rates.png and cost_raster.png.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default="cost.json",
              show_default=True, help="Results file (the full report).")
def cost(model, ann, data, data_path, limit, samples, profile, plot_dir, json_path):
    """Count the operations MODEL (.keras) performs on real images and price them.

    Per layer: MACs, spike-triggered accumulates, adds, neuron updates, memory
    accesses, firing rates and energy, against --ann (or the ANN twin).
    """
    json_path = check_output(json_path, "--json")
    if plot_dir is not None and not os.path.isdir(plot_dir):
        raise click.BadParameter(f"the folder {plot_dir} does not exist.", param_hint="'--plots'")
    energy = profiles.get(profile)
    keras_model = load_model(model, "model")
    reference = None if ann is None else load_model(ann, "ANN")
    _, (x_test, y_test) = load_data(data, data_path, limit)
    check_input(keras_model, x_test, "model", data)
    if reference is not None:
        check_input(reference, x_test, "ANN", data)
    x, _ = subset(x_test, y_test, samples)
    report = estimate(keras_model, x, profile=energy, ann=reference)
    result = {**header("cost"), "model": model, "ann": ann, "data": data, **report.to_dict()}
    write_json(json_path, result)
    if plot_dir is not None:
        plots.plot_energy(report, os.path.join(plot_dir, "cost_energy.png"))
        if report.firing_rates:
            plots.plot_firing_rates(report, os.path.join(plot_dir, "cost_firing_rates.png"))
            plots.plot_raster(report, next(iter(report.firing_rates)),
                              os.path.join(plot_dir, "cost_raster.png"))
    out = console()
    report.print(out)
    out.print(f"Wrote {json_path}")
