"""`kerashp-tui`: the Textual front end over the same engine and events the `kerashp` CLI uses.

Screens collect choices and display training events; every piece of work is a call into
`kerashp` (config, train, runs), run in Textual workers so the interface never blocks.
"""
