"""``zerograd.datasets``: real datasets that work offline, plus image transforms.

- ``MNIST``, ``FashionMNIST``: torchvision's signature, read from IDX files found on disk
  (Debian's ``dataset-fashion-mnist`` package, ``$ZEROGRAD_DATA``, the user cache...).
- ``load_digits``, ``load_breast_cancer``, ``load_iris``, ``load_diabetes``: scikit-learn's
  bundled tables as train/test ``TensorDataset``s (scikit-learn imported lazily).
- ``synthetic_linear``: d2l's linear-regression data.
- ``load_csv`` / ``TabularPreprocessor``: CSV tables via pandas (imported lazily).
- ``transforms`` (this package only; there is no ``zerograd.transforms``).
"""
from zerograd.datasets import transforms  # noqa: F401
from zerograd.datasets.idx import *  # noqa: F401,F403
from zerograd.datasets.mnist import *  # noqa: F401,F403
from zerograd.datasets.sklearn_data import *  # noqa: F401,F403
from zerograd.datasets.synthetic import *  # noqa: F401,F403
from zerograd.datasets.tabular import *  # noqa: F401,F403
