"""`kerashp presets list|show|validate`: never imports torch or keras."""

from __future__ import annotations

from kerashp.cli.options import add_overrides, subcommand

HEADLINE = ("test", "val", "train")  # reference figures `presets list` shows, as <split>_accuracy

EXAMPLES = """  kerashp presets list
  kerashp presets show lenet5_aug --set optimizer.momentum=0.95
  kerashp presets validate my_preset.toml other.toml
"""


def register(subcommands) -> None:
    parser = subcommand(subcommands, "presets", "list, show or validate presets", EXAMPLES)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="every preset with its study and reference figure").set_defaults(
        handler=list_presets
    )
    show = actions.add_parser("show", help="print a resolved preset (extends and overrides applied) as TOML")
    show.add_argument("preset", metavar="NAME|FILE")
    add_overrides(show)
    show.set_defaults(handler=show_preset)
    check = actions.add_parser("validate", help="check presets against the schema (and a [search.space] as tune would)")
    check.add_argument("files", nargs="+", metavar="NAME|FILE")
    check.set_defaults(handler=validate_presets)


def list_presets(args) -> int:
    """One table per source study, columns sized alike and two spaces apart, so the list fits 80 columns
    without cutting names or figures."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from kerashp.config import available_presets, load_preset

    rows: dict[str, list[tuple[str, str, str, str]]] = {}
    for name in available_presets():
        preset = load_preset(name)
        row = (name, preset["model"]["name"], preset["data"]["source"], _headline(preset["reference"]))
        rows.setdefault(preset["study"] or "no study named", []).append(row)
    widths = [max(len(row[column]) for study in rows.values() for row in study) for column in range(3)]
    console = Console()
    for index, (study, study_rows) in enumerate(rows.items()):
        if index:
            console.print()
        table = Table(
            title=study,
            title_justify="left",
            title_style="bold",
            box=box.SIMPLE_HEAD,
            show_header=not index,
            show_edge=False,
            padding=(0, 0, 0, 1),
        )  # a space, then two between columns: 80 wide
        for column, width in zip(("preset", "model", "data"), widths):
            table.add_column(column, width=width, no_wrap=True)
        table.add_column("reported")
        for row in study_rows:
            table.add_row(*row)
        console.print(table)
    return 0


def _headline(reported: dict) -> str:
    """The accuracies a study reported (`test/val 0.4227/0.4229`, paired as on epoch lines, so the
    column stays narrow), or its parameter count when it reported no accuracy."""
    splits = [split for split in HEADLINE if f"{split}_accuracy" in reported]
    if splits:
        return f"{'/'.join(splits)} {'/'.join(str(reported[f'{split}_accuracy']) for split in splits)}"
    if isinstance(reported.get("parameters"), int):
        return f"{reported['parameters']:,} params"
    return "-"


def show_preset(args) -> int:
    import tomli_w

    from kerashp.config import load_preset

    preset = load_preset(args.preset, args.overrides)
    name = preset.pop("name")
    print(f"# {name} (resolved)")
    print(tomli_w.dumps(preset), end="")
    return 0


def validate_presets(args) -> int:
    """A preset with a search space also gets the checks `kerashp tune` runs before it starts
    (objective, int bounds, choice types, each edge value, `when` conditions), so one that
    validates also tunes; errors name the file."""
    from kerashp.config import find_preset, load_preset
    from kerashp.search.space import check_search

    for file in args.files:
        preset = load_preset(file)
        if preset["search"]["space"]:
            check_search(preset, source=str(find_preset(file)))
        print(f"{file}: ok")
    return 0
