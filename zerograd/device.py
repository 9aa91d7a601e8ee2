"""Devices. Only the CPU exists today; the names follow torch so device-aware code runs."""


class device:
    __slots__ = ("type", "index")

    def __init__(self, type="cpu", index=None):  # noqa: A002 (torch's argument name)
        if isinstance(type, device):
            type, index = type.type, type.index
        if ":" in type:
            type, _, idx = type.partition(":")
            index = int(idx)
        if type not in ("cpu", "cuda"):
            raise RuntimeError(f"Expected one of cpu, cuda device type at start of device "
                               f"string: {type}")
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


def check_device(dev) -> None:
    """Accept cpu; explain clearly that there is no GPU backend yet for anything else."""
    if dev is None:
        return
    if device(dev).type != "cpu":
        raise RuntimeError(f"device {dev!r} is not available: zerograd runs on the CPU "
                           "(zerograd.cuda.is_available() is False). Use device='cpu'.")
