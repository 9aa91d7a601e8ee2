"""``zerograd.distributions``: probability distributions with torch.distributions' API.

Only what d2l's sequence chapters use so far: ``Categorical`` (sampling text, policy
gradients). Sampling goes through ``zerograd.multinomial`` and so through zerograd's
generators: ``zerograd.manual_seed`` makes draws repeatable.
"""
from zerograd.distributions.categorical import Categorical
from zerograd.distributions.distribution import Distribution

__all__ = ["Distribution", "Categorical"]
