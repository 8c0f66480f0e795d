"""The two errors a training run reports to its caller; `train.py` turns them into exit codes 2 and 3."""


class OutputDirError(ValueError):
    """The output folder cannot be used (not writable, or holds a run that --resume was not asked to continue)."""


class TrainingError(RuntimeError):
    """Training stopped on a fault it cannot continue past (a non-finite loss, a checkpoint that cannot be written).
    The message says what happened and what was kept."""
