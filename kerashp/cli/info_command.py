"""`kerashp info`: versions, backend, device(s), and where datasets, runs and presets live."""

from __future__ import annotations

import os
import sys

from kerashp.cli.options import add_runs_dir, runs_dir, subcommand


def register(subcommands) -> None:
    parser = subcommand(
        subcommands, "info", "versions, backend, devices and where data and runs live", "  kerashp info\n"
    )
    add_runs_dir(parser)
    parser.set_defaults(handler=show_info)


def show_info(args) -> int:
    """Versions come from package metadata and the backend from the environment, so only torch is
    imported (to see the devices), not keras (seconds more)."""
    from kerashp.backend import device_description, use_torch_backend, versions
    from kerashp.config import preset_dirs
    from kerashp.data.sources.tfds import data_dir

    use_torch_backend()  # keras reads KERAS_BACKEND first, and this refuses any value but torch
    rows = {f"{name} version": value for name, value in versions().items()}
    rows |= {
        "python": sys.version.split()[0],
        "keras backend": os.environ["KERAS_BACKEND"],
        "device": device_description(),
        "datasets (tfds)": data_dir(),
        "runs": str(runs_dir(args).resolve()),
        "presets": ", ".join(str(p) for p in preset_dirs()),
    }
    width = max(map(len, rows))
    for key, value in rows.items():
        print(f"{key:<{width}}  {value}")
    return 0
