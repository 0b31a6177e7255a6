"""Errors a user can cause, each carrying a sentence a person can act on."""


class VaeGuiError(Exception):
    """Base class for errors that the CLI and the GUI show to the user as they are."""


class DatasetError(VaeGuiError):
    """A dataset is missing, unreadable or malformed."""


class CheckpointError(VaeGuiError):
    """A checkpoint file cannot be read, is not ours, or does not describe valid models."""


class TrainingDiverged(VaeGuiError):
    """The loss became NaN or infinite; the trainer has restored its last good weights."""


class JudgeError(VaeGuiError):
    """A judge (the digit classifier that grades samples) cannot be trained, read or used."""


class TooLarge(VaeGuiError):
    """Models or data that would not fit in memory, refused before anything is allocated."""
