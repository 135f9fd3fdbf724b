"""Searches with KerasTuner over the same experiment `kerashp train` runs.

Light modules (no torch, keras or keras_tuner at import, so the CLI validates and reads results
instantly): `space` (check `[search.space]`, values -> trial presets), `records` (one record per
trial, `trials.csv`), `directory` (the search directory), `results` (ranking, best-trial export),
`pruning` (median stopping), `events` (what a search reports).
Heavy ones: `executions` (a trial's kerashp runs), `tuner` (the KerasTuner glue), `distributed`
(gRPC chief, workers), `runner` (`run_search`).
"""
