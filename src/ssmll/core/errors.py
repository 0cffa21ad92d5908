"""The one exception type that means "the user's input is wrong", not "the code is wrong"."""


class UserError(Exception):
    """Bad input, params or environment, with a message that says how to fix it.

    Stage commands turn it into one line on stderr and a non-zero exit, no traceback.
    """
