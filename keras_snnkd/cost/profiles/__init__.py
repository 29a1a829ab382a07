"""Energy profiles shipped as JSON data files, and the loader.

Each ``*.json`` file in this folder is one profile (schema: see
`keras_snnkd.cost.EnergyProfile`). `get` accepts a shipped name, a path to
your own JSON file, a dict, or an `EnergyProfile`.
"""

import os

from keras_snnkd.cost.energy_profile import EnergyProfile

__all__ = ["available", "get"]

_FOLDER = os.path.dirname(os.path.abspath(__file__))


def available():
    """Names of the shipped profiles, sorted.

    Example:
    >>> from keras_snnkd.cost import profiles
    >>> "cmos45nm" in profiles.available()
    True
    """
    return sorted(name[:-5] for name in os.listdir(_FOLDER) if name.endswith(".json"))


def get(profile):
    """Returns an `EnergyProfile`.

    Args:
        profile: a shipped name (see `available`), a path to a ``.json``
            profile file, a dict in the profile schema, or an `EnergyProfile`.

    Raises:
        ValueError: unknown name (the message lists the known ones), or a
            file that does not follow the schema.

    Example:
    >>> from keras_snnkd.cost import profiles
    >>> profiles.get("cmos45nm").energy_pj["mac"]
    4.6
    """
    if isinstance(profile, EnergyProfile):
        return profile
    if isinstance(profile, dict):
        return EnergyProfile.from_dict(profile)
    if isinstance(profile, (str, os.PathLike)):
        text = os.fspath(profile)
        if text in available():
            return EnergyProfile.from_file(os.path.join(_FOLDER, text + ".json"))
        if text.endswith(".json"):
            if not os.path.isfile(text):
                raise ValueError(f"profile file {text!r} does not exist.")
            return EnergyProfile.from_file(text)
        raise ValueError(
            f"Unknown energy profile {text!r}. Known profiles: "
            f"{', '.join(available())}; or give a path to your own .json profile file."
        )
    raise TypeError(
        "`profile` must be a profile name, a path to a .json file, a dict or an "
        f"EnergyProfile; got {profile!r} of type {type(profile).__name__}."
    )
