"""Keras runs on PyTorch here: set the backend before keras is imported and pick the device."""

from __future__ import annotations

import os

from kerashp.errors import UserError


def use_torch_backend() -> None:
    """Set KERAS_BACKEND=torch, refusing a different choice the user made on purpose."""
    chosen = os.environ.get("KERAS_BACKEND")
    if chosen and chosen != "torch":
        raise UserError(
            f"KERAS_BACKEND={chosen}: kerashp trains with Keras on PyTorch; "
            "unset KERAS_BACKEND or set it to torch"
        )
    os.environ["KERAS_BACKEND"] = "torch"
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # never phone home
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def device_description() -> str:
    """'cuda:0 (NVIDIA H100)' when torch sees a GPU (Keras then places tensors there), else 'cpu'."""
    import torch

    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        return f"cuda ({names})"
    return f"cpu ({torch.get_num_threads()} threads)"


def versions() -> dict[str, str]:
    """Versions of the libraries that decide a run's numbers, for summary.json and `kerashp info`."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("kerashp", "keras", "torch", "numpy", "albumentations", "tensorflow-datasets", "keras-tuner"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found
