"""A NumPy-``Generator``-like random generator whose draws are born on one GPU.

zerograd's ops call the NumPy ``Generator`` methods (``random``, ``standard_normal``,
``integers``, ``permutation``, ``uniform``, ``normal``, ``exponential``) on the generator
of the device they draw for; this class gives them the same names on CuPy.

Why a counter: a checkpoint stores a generator's state as JSON, and cuRAND's state cannot
be read back. So draw ``k`` of a generator seeded with ``s`` reseeds CuPy's
``RandomState`` with ``mix(s, k)`` first: the state is just ``(seed, k)``, restoring it
continues the exact stream, and reseeding the counter-based Philox generator is cheap
(no per-thread state setup, unlike cuRAND's default XORWOW).
"""

_MASK = (1 << 64) - 1


def mix(seed, counter):
    """SplitMix64 of ``seed`` and ``counter``: independent-looking 63-bit seeds per draw."""
    z = (seed + (counter + 1) * 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return (z ^ (z >> 31)) >> 1


class _CounterState:
    """``bit_generator`` with a JSON-able ``state``, as zerograd.Generator expects."""

    def __init__(self, owner):
        self._owner = owner

    @property
    def state(self):
        return {"bit_generator": "cupy-philox-counter", "seed": self._owner.seed,
                "counter": self._owner.counter}

    @state.setter
    def state(self, value):
        if not isinstance(value, dict) or value.get("bit_generator") != "cupy-philox-counter":
            raise ValueError("this state was not saved from a zerograd CUDA generator; a "
                             "CPU generator's state cannot be restored on a GPU one")
        self._owner.seed, self._owner.counter = int(value["seed"]), int(value["counter"])


class CupyGenerator:
    """Draws CuPy arrays on device ``device_id``, repeatably from ``seed``."""

    def __init__(self, cupy, seed, device_id):
        self.xp = cupy
        self.seed = int(seed) & _MASK
        self.counter = 0
        self.device_id = device_id
        self.bit_generator = _CounterState(self)
        with cupy.cuda.Device(device_id):
            self._state = cupy.random.RandomState(
                0, method=cupy.cuda.curand.CURAND_RNG_PSEUDO_PHILOX4_32_10)

    def _next(self):
        """The RandomState, reseeded for the next draw."""
        self._state.seed(mix(self.seed, self.counter))
        self.counter += 1
        return self._state

    def _draw(self, make, out):
        with self.xp.cuda.Device(self.device_id):
            values = make(self._next())
        if out is None:
            return values
        out[...] = values
        return out

    # -- the NumPy Generator methods zerograd calls ------------------------------------------
    def random(self, size=None, dtype=float, out=None):
        size = out.shape if out is not None else size
        return self._draw(lambda rs: rs.random_sample(size, dtype=dtype), out)

    def standard_normal(self, size=None, dtype=float, out=None):
        size = out.shape if out is not None else size
        return self._draw(lambda rs: rs.standard_normal(size, dtype=dtype), out)

    def integers(self, low, high=None, size=None, dtype="int64", endpoint=False):
        if high is None:
            low, high = 0, low
        if endpoint:
            high = high + 1
        return self._draw(lambda rs: rs.randint(low, high, size, dtype=dtype), None)

    def permutation(self, x):
        return self._draw(lambda rs: rs.permutation(x), None)

    def uniform(self, low=0.0, high=1.0, size=None):
        return self._draw(lambda rs: rs.uniform(low, high, size), None)

    def normal(self, loc=0.0, scale=1.0, size=None):
        return self._draw(lambda rs: rs.normal(loc, scale, size), None)

    def exponential(self, scale=1.0, size=None):
        return self._draw(lambda rs: rs.exponential(scale, size), None)
