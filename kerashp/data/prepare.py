"""Download and prepare a tfds dataset as array_record (run as a subprocess: it imports TensorFlow).

    python -m kerashp.data.prepare cifar10

Progress (tfds's download bars and messages, TensorFlow's logs) goes to stderr, so the caller
can show it live; stdout carries one line only: where the dataset went, or why preparing failed.
Builders of your own are found through $KERASHP_TFDS_MODULES (see `kerashp.data.sources.tfds`).
"""

from __future__ import annotations

import contextlib
import logging
import sys

DOWNLOAD_RETRIES = 3  # ~1 s of backoff; tfds's 10 take ~3.5 minutes to give up offline


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m kerashp.data.prepare NAME", file=sys.stderr)
        return 2
    try:
        import tensorflow  # noqa: F401  (tfds needs tf.io.gfile to download and convert)
    except ImportError:
        print("TensorFlow is not installed: pip install 'kerashp[prepare]'")
        return 1
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core.download import downloader

    from kerashp.data.sources.tfds import data_dir, register_builders, tfds_reason

    downloader.MAX_RETRIES = DOWNLOAD_RETRIES
    logging.getLogger("urllib3").setLevel(logging.ERROR)  # a warning per retry; the failure is our one line
    try:
        register_builders()
        with contextlib.redirect_stdout(sys.stderr):  # tfds prints "Downloading and preparing ..." to stdout
            builder = tfds.builder(argv[0], data_dir=data_dir())
            builder.download_and_prepare(file_format="array_record")
    except Exception as exc:  # a failed download or conversion: one line for the caller's error message
        print(f"{type(exc).__name__}: {tfds_reason(exc)}")
        return 1
    print(f"prepared {argv[0]} in {builder.data_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
