"""What the commands write: JSON results (atomically) and a result table on the console."""

import json

import keras
from rich.console import Console
from rich.table import Table

import keras_snnkd
from keras_snnkd.export._files import atomic_outputs


def console():
    """The console commands print to: no syntax highlighting of numbers, and 140
    columns when stdout is not a terminal (logs, CI) so tables do not wrap."""
    out = Console(highlight=False)
    return out if out.is_terminal else Console(highlight=False, width=140)


def header(command):
    """The fields every JSON result starts with."""
    return {"command": f"snnkd {command}", "keras_snnkd": keras_snnkd.__version__,
            "keras": keras.__version__, "backend": keras.backend.backend()}


def write_json(path, data):
    """Writes ``data`` as indented JSON, atomically."""
    with atomic_outputs(path) as temp:
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
    return path


def _cell(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def print_results(title, rows, json_path=None):
    """Prints ``rows`` (``{label: value}``) as a two-column table, and where the JSON went."""
    table = Table(title=title, show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for label, value in rows.items():
        table.add_row(label, _cell(value))
    out = console()
    out.print(table)
    if json_path is not None:
        out.print(f"Wrote {json_path}")
