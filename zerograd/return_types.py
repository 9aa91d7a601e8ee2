"""Named tuples returned by ops that give values and indices (``x.max(dim)``, ``x.sort()``)."""
from collections import namedtuple

max = namedtuple("max", ["values", "indices"])  # noqa: A001 (torch.return_types names)
min = namedtuple("min", ["values", "indices"])  # noqa: A001
sort = namedtuple("sort", ["values", "indices"])
topk = namedtuple("topk", ["values", "indices"])
kthvalue = namedtuple("kthvalue", ["values", "indices"])
median = namedtuple("median", ["values", "indices"])
linalg_eigh = namedtuple("linalg_eigh", ["eigenvalues", "eigenvectors"])
