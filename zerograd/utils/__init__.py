"""``zerograd.utils``: data loading."""
