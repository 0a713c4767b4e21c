"""The one exception type for a user's mistake: the CLI prints it as one line and exits with status 2.

Anything else (a bug, a broken install) keeps its traceback and exits with status 1.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input from the user: a file, a record, an argument or a config value; the message says where."""
