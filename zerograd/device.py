"""Devices: ``zerograd.device('cpu')``, ``device('cuda', 0)``, with torch's names and rules.

A device names a backend (``zerograd.backend``) and, for multi-device types, an index.
Whether it can be used is the backend registry's answer: ``resolve`` gives the backend
of a device, or the one-line error saying why there is none.
"""
from zerograd.backend import _registry

_KNOWN_TYPES = ("cpu", "cuda")  # names valid even where their backend is absent


class device:
    __slots__ = ("type", "index")

    def __init__(self, type="cpu", index=None):  # noqa: A002 (torch's argument name)
        if isinstance(type, device):
            type, index = type.type, type.index
        elif isinstance(type, int) and not isinstance(type, bool):
            type, index = "cuda", type  # torch: a bare ordinal means a CUDA device
        if not isinstance(type, str):
            raise TypeError(f"device() expects a string such as 'cpu' or 'cuda:0', got "
                            f"{type.__class__.__name__}")
        if ":" in type:
            type, _, idx = type.partition(":")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}:{idx}'")
            index = int(idx)
        if type not in _KNOWN_TYPES and type not in _registry.registered_types():
            known = sorted(set(_KNOWN_TYPES) | set(_registry.registered_types()))
            raise RuntimeError(f"Expected one of {', '.join(known)} device type at start of "
                               f"device string: {type}")
        self.type = type
        self.index = index

    def __eq__(self, other):
        # As in torch, a device never equals a string: `x.device == 'cpu'` is False there,
        # and code written against torch must take the same branch here.
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __repr__(self):
        idx = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{idx})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"


CPU = device("cpu")


def resolve(dev):
    """``(backend, index)`` for a device, a device string, or None (the CPU)."""
    if dev is None:
        return _registry.get("cpu"), None
    d = dev if isinstance(dev, device) else device(dev)
    return _registry.get(d.type), d.index


def check_device(dev) -> None:
    """Raise the one-line error for a device this machine cannot use; accept the rest."""
    resolve(dev)


def same_device(a, b) -> bool:
    """Whether two devices are the same, with a missing index meaning the current one (0)."""
    a, b = device(a), device(b)
    if a.type != b.type:
        return False
    return a.type == "cpu" or (a.index or 0) == (b.index or 0)


def mixed_devices_error(devices, argument=None):
    """torch's error for tensors on different devices (``devices``: their names, any order;
    ``argument``: which argument an op was checking, as torch names it)."""
    names = sorted({str(d) for d in devices}, key=lambda d: (d != "cpu", d))
    where = f" (when checking argument for argument {argument})" if argument else ""
    return RuntimeError("Expected all tensors to be on the same device, but found at least "
                        f"two devices, {names[0]} and {names[1]}!{where}")
