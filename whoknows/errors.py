"""The errors whoknows raises on purpose. Adapters show their message as one line, no traceback."""


class WhoknowsError(Exception):
    """Something went wrong that the user can understand and act on (the CLI exits 1)."""


class InputError(WhoknowsError):
    """The user's input is not acceptable as written (the CLI treats it as a usage error, exit 2)."""


class NotFoundError(WhoknowsError):
    """The thing the user named is not in the ledger."""
