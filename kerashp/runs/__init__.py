"""Run folders: one folder per run holding everything needed to read, repeat or resume it.

`RunDir` creates, locks and writes one; `files` reads one back, checking every file (a run folder is
untrusted input); `listing` turns runs into the rows `kerashp runs` and the TUI show.
"""
