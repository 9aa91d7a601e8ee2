"""``zerograd.utils.data``: Dataset, DataLoader, samplers."""
