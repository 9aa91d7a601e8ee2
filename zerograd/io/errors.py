"""The one error type of ``zerograd.io``."""

__all__ = ["CheckpointError"]


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, truncated, corrupted, or from an incompatible version."""
