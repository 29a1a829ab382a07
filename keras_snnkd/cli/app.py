"""The ``snnkd`` group, the console entry point and its error handling.

``run()`` is what the ``snnkd`` script calls. ``import keras_snnkd`` starts
Keras, so by the time ``run()`` sees ``--backend X`` the backend is fixed: when
``X`` differs from it, ``run()`` replaces the process with
``python -m keras_snnkd.cli ...`` under ``KERAS_BACKEND=X`` before any command
runs. User errors print one line, ``Error: ...``, on stderr and exit non-zero;
``--debug`` shows the traceback instead.
"""

import os
import sys

import click
import keras

BACKENDS = ("tensorflow", "jax", "torch")
_REEXEC_MARK = "_SNNKD_BACKEND_SWITCHED"

#: Exceptions the library raises for bad input; shown as one line, not a traceback.
USER_ERRORS = (ValueError, TypeError, OSError, ImportError)


class UserError(click.ClickException):
    """An error in the user's input (file, option, model pairing): one line, exit code 1."""


@click.group(context_settings={"help_option_names": ["-h", "--help"],
                               "max_content_width": 100})
@click.option("--backend", type=click.Choice(BACKENDS), default=None,
              help="Keras backend to run on (default: $KERAS_BACKEND, else Keras's own "
                   "default, tensorflow).")
@click.option("--debug", is_flag=True, help="Show the full traceback of an error.")
@click.version_option(package_name="keras_snnkd", prog_name="snnkd")
def main(backend, debug):  # noqa: ARG001  (--debug is read by run())
    """keras_snnkd: spiking neural networks in Keras 3, distilled, costed and exported.

    Start with `snnkd demo`. Every command takes its options on the command line
    or from one YAML file (`--config run.yaml`, keys = option names) and writes
    its results as JSON.
    """
    running = keras.backend.backend()
    if backend is not None and backend != running:
        raise click.UsageError(
            f"--backend {backend}: this process already runs Keras on {running}; start "
            f"it through the `snnkd` command (or with KERAS_BACKEND={backend})."
        )


def requested_backend(argv):
    """The value of the group's ``--backend`` in ``argv`` (before the command), or None."""
    for i, token in enumerate(argv):
        if token in main.commands:
            return None
        if token == "--backend" and i + 1 < len(argv):
            return argv[i + 1]
        if token.startswith("--backend="):
            return token.split("=", 1)[1]
    return None


def _switch_backend(argv):
    """Re-executes this command under ``KERAS_BACKEND=X`` when ``--backend X`` asks
    for another backend than the one Keras started with."""
    backend = requested_backend(argv)
    if backend not in BACKENDS or backend == keras.backend.backend():
        return
    if os.environ.get(_REEXEC_MARK):  # KERAS_BACKEND was set and Keras still chose another
        raise UserError(f"--backend {backend}: Keras started on {keras.backend.backend()} "
                        f"although KERAS_BACKEND={backend}.")
    env = {**os.environ, "KERAS_BACKEND": backend, _REEXEC_MARK: "1"}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "keras_snnkd.cli", *argv], env)


def _one_line(message):
    return " ".join(str(message).split())


def _show(error):
    """``Error: ...`` on one line (with the command's ``--help`` hint for usage errors)."""
    if isinstance(error, click.UsageError) and error.ctx is not None:
        hint = f" (see '{error.ctx.command_path} --help')"
    else:
        hint = ""
    click.echo(f"Error: {_one_line(error.format_message())}{hint}", err=True)


def run(argv=None):
    """Console-script entry point: ``snnkd [--backend B] [--debug] COMMAND ...``.

    Args:
        argv: arguments without the program name; default ``sys.argv[1:]``.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    try:
        _switch_backend(argv)
        code = main.main(args=argv, prog_name="snnkd", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as error:
        if debug:
            raise
        _show(error)
        sys.exit(error.exit_code)
    except USER_ERRORS as error:
        if debug:
            raise
        click.echo(f"Error: {_one_line(error)}", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
