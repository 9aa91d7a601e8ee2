"""``Size``: the shape tuple, printed like torch's."""


class Size(tuple):
    __slots__ = ()

    def __new__(cls, iterable=()):
        return super().__new__(cls, iterable)

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self):
        return f"zerograd.Size({list(self)})"

    def __getitem__(self, item):
        out = super().__getitem__(item)
        return Size(out) if isinstance(item, slice) else out

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))
