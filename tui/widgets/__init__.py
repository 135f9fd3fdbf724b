"""Parts the screens share: charts, curves, the epoch table, preset details, editor rows."""
