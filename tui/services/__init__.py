"""What the screens use but do not draw: child processes for runs, searches and model summaries,
following a run's events, the preset files the TUI saves, and the app's settings."""
