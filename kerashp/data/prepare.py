"""Download and prepare a tfds dataset as array_record (run as a subprocess: it imports TensorFlow).

    python -m kerashp.data.prepare cifar10
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m kerashp.data.prepare NAME", file=sys.stderr)
        return 2
    try:
        import tensorflow  # noqa: F401  (tfds needs tf.io.gfile to download and convert)
    except ImportError:
        print("TensorFlow is not installed: pip install 'kerashp[prepare]'", file=sys.stderr)
        return 1
    import tensorflow_datasets as tfds

    from kerashp.data.tfds_source import data_dir

    builder = tfds.builder(argv[0], data_dir=data_dir())
    builder.download_and_prepare(file_format="array_record")
    print(f"prepared {argv[0]} in {builder.data_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
