"""Errors meant for the user: their message is one clear line, printed without a traceback."""


class ExplorerError(Exception):
    """Base class of every error whose message is shown to the user as is."""


class UserInputError(ExplorerError, ValueError):
    """Bad input from the user: unknown arch or option, bad image, bad file, bad argument."""
