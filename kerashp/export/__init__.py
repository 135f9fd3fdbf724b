"""Exports of runs, searches and studies into other tools' formats: `tensorboard` (event files with
per-epoch scalars and the HParams plugin's data). `sources` says what a path a user names is, for
the exports and for `kerashp report`. Nothing here imports keras or torch."""
