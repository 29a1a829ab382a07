"""The ``snnkd`` command line (click).

``snnkd [--backend tensorflow|jax|torch] [--debug] COMMAND``:

- ``demo``: teacher -> distilled spiking student -> energy -> int8 -> TFLite Micro;
- ``distill``: train a student ``.keras`` from a teacher ``.keras``;
- ``convert``: an ANN ``.keras`` to an SNN ``.keras``;
- ``export``: a ``.keras`` to TFLite (int8), a C array, TFLite Micro and Vela checks;
- ``cost``: spike-aware operations and energy of a ``.keras`` (against an ANN);
- ``bench``: inference (and training) speed of a ``.keras`` on this machine.

Each command writes JSON and takes its options from ``--config run.yaml`` too.
`run` is the console-script entry point (`keras_snnkd.cli.app`).
"""

from keras_snnkd.cli import bench, convert, cost, demo, distill, export
from keras_snnkd.cli.app import BACKENDS, USER_ERRORS, UserError, main, run

for _command in (demo.demo, distill.distill, convert.convert, export.export, cost.cost,
                 bench.bench):
    main.add_command(_command)

__all__ = ["main", "run", "BACKENDS", "USER_ERRORS", "UserError"]
