"""The ``snnkd`` command line.

``--backend`` is applied before Keras is imported; user errors print one line
and exit non-zero (``--debug`` shows the traceback).
"""

import json
import os
import sys
import time

import click

BACKENDS = ("tensorflow", "jax", "torch")


class UserError(click.ClickException):
    """An error caused by the user's input: one line, exit code 1."""


def _select_backend(backend):
    if backend is None:
        return
    if "keras" in sys.modules:
        import keras

        if keras.backend.backend() != backend:
            raise click.UsageError(
                f"--backend {backend}: Keras is already running on "
                f"{keras.backend.backend()} in this process."
            )
    os.environ["KERAS_BACKEND"] = backend


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--backend", type=click.Choice(BACKENDS), default=None,
              help="Keras backend (default: $KERAS_BACKEND, else Keras's own default).")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.version_option(package_name="keras_snnkd")
@click.pass_context
def main(ctx, backend, debug):
    """keras_snnkd: spiking neural networks in Keras 3."""
    _select_backend(backend)
    ctx.obj = {"debug": debug}


@main.command()
@click.option("--timesteps", "-T", default=4, show_default=True, type=click.IntRange(1),
              help="Time steps per sample.")
@click.option("--epochs", default=5, show_default=True, type=click.IntRange(1))
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(1))
@click.option("--limit", default=None, type=click.IntRange(1),
              help="Use only the first N training and test images (quick runs).")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--json", "json_path", default=None, type=click.Path(dir_okay=False),
              help="Also write the results to this JSON file.")
def demo(timesteps, epochs, batch_size, limit, seed, json_path):
    """Train the reference spiking CNN on the bundled MNIST subset.

    Prints test accuracy and the firing rate of every spiking layer.
    """
    import keras

    from keras_snnkd import datasets, models, monitor

    (x_train, y_train), (x_test, y_test) = datasets.load_mnist_subset()
    if limit is not None:
        x_train, y_train, x_test, y_test = (
            x_train[:limit], y_train[:limit], x_test[:limit], y_test[:limit])
    keras.utils.set_random_seed(seed)
    model = models.reference_snn(timesteps=timesteps)
    steps = epochs * -(-len(x_train) // batch_size)
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    click.echo(
        f"Training the reference SNN (T={timesteps}) on {len(x_train)} MNIST images "
        f"with the {keras.backend.backend()} backend, {epochs} epochs"
    )
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose="auto")
    train_seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    rates = monitor.firing_rates(model, x_test)
    click.echo(f"\nTest accuracy: {accuracy:.4f} on {len(x_test)} held-out images "
               f"({train_seconds:.0f} s of training)")
    click.echo("Firing rate (spikes per neuron per step):")
    for name, rate in rates.items():
        click.echo(f"  {name:<24s} {rate:.4f}")
    if json_path:
        result = {"backend": keras.backend.backend(), "timesteps": timesteps,
                  "epochs": epochs, "train_samples": len(x_train),
                  "test_samples": len(x_test), "test_accuracy": float(accuracy),
                  "firing_rates": rates, "train_seconds": train_seconds}
        with open(json_path, "w") as f:
            json.dump(result, f, indent=2)
        click.echo(f"Wrote {json_path}")


def run():
    """Console-script entry point: user errors without a traceback unless --debug."""
    debug = "--debug" in sys.argv[1:]
    try:
        main.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except (ValueError, TypeError, FileNotFoundError, ImportError) as error:
        if debug:
            raise
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)
