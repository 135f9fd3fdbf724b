"""Studies: one preset varied along factors, every variant trained, each factor's winner reported.

`plan` reads a study's factors, `folder` keeps study.json and the variants' runs, `runners` trains
variants (in this process or in `--jobs` child processes), `study` runs it all and writes the report.
"""
