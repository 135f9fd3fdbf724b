"""The app's pages: presets, tweak, training dashboard, runs, run detail, comparison, search."""
