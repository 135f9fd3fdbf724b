"""Keras runs on PyTorch here: set the backend before keras is imported and pick the device."""

from __future__ import annotations

import os
import sys

from kerashp.errors import UserError


def use_torch_backend() -> None:
    """Set KERAS_BACKEND=torch, refusing a different choice the user made on purpose."""
    chosen = os.environ.get("KERAS_BACKEND")
    if chosen and chosen != "torch":
        raise UserError(
            f"KERAS_BACKEND={chosen}: kerashp trains with Keras on PyTorch; unset KERAS_BACKEND or set it to torch"
        )
    os.environ["KERAS_BACKEND"] = "torch"
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # never phone home
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def set_random_seed(seed: int) -> None:
    """`keras.utils.set_random_seed` without importing TensorFlow: Keras seeds TensorFlow whenever it
    is installed (the `prepare` extra installs it), and importing it would cost the training process
    seconds and hundreds of MiB for nothing. Keras remembers it as unavailable afterwards."""
    import keras

    if "tensorflow" in sys.modules:
        keras.utils.set_random_seed(seed)
        return
    sys.modules["tensorflow"] = None  # type: ignore[assignment]  # makes `import tensorflow` fail
    try:
        keras.utils.set_random_seed(seed)
    finally:
        del sys.modules["tensorflow"]


def device_description() -> str:
    """'cuda:0 (NVIDIA H100)' when torch sees a GPU (Keras then places tensors there), else 'cpu'."""
    import torch

    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        return f"cuda ({names})"
    return f"cpu ({torch.get_num_threads()} threads)"


def gpu_count() -> int:
    import torch

    return torch.cuda.device_count()


def visible_gpus() -> list[str]:
    """The GPUs this process may hand to child processes (study jobs, local search workers) through
    CUDA_VISIBLE_DEVICES: the entries of its own CUDA_VISIBLE_DEVICES when set (an index into
    physical GPUs would escape it), else 0..n-1; as many as torch counts (CUDA stops reading the
    list at its first invalid entry, such as -1)."""
    count = gpu_count()
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [entry.strip() for entry in visible.split(",")] if visible else [str(index) for index in range(count)]
    return ids[:count]


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
