"""``--config run.yaml``: a command's options from one YAML file.

The file is a mapping from option names (``batch_size`` or ``batch-size``) to
values. Options given on the command line win over the file. Unknown keys are
an error that lists the known ones.
"""

import click
import yaml


def _load(ctx, param, path):
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except yaml.YAMLError as error:
        raise click.BadParameter(f"{path} is not valid YAML: {error}", ctx, param) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise click.BadParameter(
            f"{path} must hold a mapping of option names to values, got a "
            f"{type(data).__name__}.", ctx, param)
    known = {p.name: p for p in ctx.command.params if p.name not in ("config", "help")}
    values = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in known:
            raise click.BadParameter(
                f"unknown key {key!r} in {path}; `{ctx.command_path}` knows "
                f"{', '.join(sorted(known))}.", ctx, param)
        values[name] = value
    ctx.default_map = {**(ctx.default_map or {}), **values}
    return path


def config_option(command):
    """Adds ``--config FILE`` (YAML) to a click command; apply above ``@click.command``'s
    options so that it is processed first (it is eager)."""
    return click.option(
        "--config", type=click.Path(exists=True, dir_okay=False), is_eager=True,
        expose_value=False, callback=_load,
        help="YAML file of option values (keys = option names); the command line wins.",
    )(command)
