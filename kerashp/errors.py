"""Errors a user can fix. The CLI prints them as one line and exits with code 2 (no traceback)."""

from kerashp.text import shown_value


class UserError(Exception):
    """Bad input: a preset, an override, a path or a dataset the user named."""

    exit_code = 2


class PresetError(UserError):
    """A preset value that breaks the schema, reported as `source: key = value: problem`."""

    def __init__(self, source: str, key: str, problem: str, value: object = None, *, has_value: bool = True):
        self.source, self.key, self.value, self.problem = source, key, value, problem
        where = f"{key} = {shown_value(value)}" if has_value and key else key
        super().__init__(": ".join(part for part in (source, where, problem) if part))


class DataError(UserError):
    """A dataset that cannot be found, read or prepared."""


class RunError(UserError):
    """A run directory that does not exist or cannot be resumed."""


class RunFailedError(Exception):
    """A run that broke for a reason other than bad input; its traceback is in the run's error.log."""

    exit_code = 1
