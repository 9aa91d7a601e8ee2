"""Floating-point results without NumPy's RuntimeWarnings, as in torch.

torch computes inf and nan silently (``exp(100.)`` in float32 is inf); NumPy warns
"overflow encountered in exp" and points at the zerograd line that called it, which tells
a user nothing about their own code. One warnings filter, limited to NumPy's
floating-point messages raised from zerograd's own modules, silences those while the
user's own NumPy code warns as before. (``np.errstate`` around every op would cost more
than a small op itself.)
"""
import warnings

warnings.filterwarnings(
    "ignore", message=r"(overflow|invalid value|divide by zero|underflow) encountered in ",
    category=RuntimeWarning, module=r"zerograd\.")
