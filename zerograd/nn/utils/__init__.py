"""Gradient clipping and parameter/vector conversion."""
