"""`kerashp data prepare|list`: get tfds datasets ready ahead of time and see what is on disk."""

from __future__ import annotations

from kerashp.cli.options import subcommand

EXAMPLES = """  kerashp data prepare cifar10     # needs a network and the prepare extra
  kerashp data list                # what is prepared in $TFDS_DATA_DIR
  # a tfds builder of your own, in an importable package my_datasets:
  KERASHP_TFDS_MODULES=my_datasets kerashp data prepare my_dataset
"""


def register(subcommands) -> None:
    parser = subcommand(subcommands, "data", "prepare tfds datasets and list prepared ones", EXAMPLES)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    prepare = actions.add_parser(
        "prepare",
        help="download and prepare a tfds dataset (runs TensorFlow in a subprocess)",
        description="Download and prepare a tfds dataset in $TFDS_DATA_DIR (default ~/tensorflow_datasets). "
        "Builders of your own are found by importing the packages named in $KERASHP_TFDS_MODULES.",
    )
    prepare.add_argument("name", help="tfds dataset name, e.g. cifar10, cifar100, caltech101, mnist")
    prepare.set_defaults(handler=prepare_dataset)
    actions.add_parser("list", help="datasets prepared locally, with their size").set_defaults(handler=list_datasets)


def prepare_dataset(args) -> int:
    from kerashp.data.sources.tfds import data_dir, prepare

    name = args.name.removeprefix("tfds:")
    prepare(name)
    print(f"tfds:{name} is ready in {data_dir()}")
    return 0


def list_datasets(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from kerashp.data.sources.tfds import data_dir, prepared_datasets

    found = prepared_datasets()
    if not found:
        print(f"no prepared datasets in {data_dir()}")
        return 0
    table = Table(title=f"prepared in {data_dir()}", title_justify="left")
    for column in ("source", "version", "size"):
        table.add_column(column, justify="right" if column == "size" else "left")
    for name, version, size in found:
        table.add_row(f"tfds:{name}", version, f"{size / 2**20:,.1f} MiB")
    Console().print(table)
    return 0
