"""``zerograd.datasets``: real datasets that work offline, plus image transforms.

- ``MNIST``, ``FashionMNIST``: torchvision's signature, read from IDX files found on disk
  (Debian's ``dataset-fashion-mnist`` package, ``$ZEROGRAD_DATA``, the user cache...).
- ``load_digits``, ``load_breast_cancer``, ``load_iris``, ``load_diabetes``: scikit-learn's
  bundled tables as train/test ``TensorDataset``s (scikit-learn imported lazily).
- ``synthetic_linear``: d2l's linear-regression data.
- ``load_csv`` / ``TabularPreprocessor``: CSV tables via pandas (imported lazily).
- ``transforms`` (this package only; there is no ``zerograd.transforms``).
- ``Vocab``, ``tokenize``, ``seq_data_iter_random``/``_sequential``, ``load_corpus``,
  ``load_data_lm``: text for language models (``text.py``, ``text_corpora.py``: Debian's
  fortune files, e.g. ``"tang300"``, or any UTF-8 file).
- ``load_data_nmt``, ``load_data_seq2seq``: encoder-decoder data (``seq2seq.py``).
"""
from zerograd.datasets import transforms  # noqa: F401
from zerograd.datasets.idx import *  # noqa: F401,F403
from zerograd.datasets.mnist import *  # noqa: F401,F403
from zerograd.datasets.sklearn_data import *  # noqa: F401,F403
from zerograd.datasets.synthetic import *  # noqa: F401,F403
from zerograd.datasets.tabular import *  # noqa: F401,F403
from zerograd.datasets.text import *  # noqa: F401,F403
from zerograd.datasets.text_corpora import *  # noqa: F401,F403
from zerograd.datasets.seq2seq import *  # noqa: F401,F403
