"""``zerograd.datasets``: real datasets that work offline."""
