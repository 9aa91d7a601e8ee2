"""Seeded randomness: ``Generator`` objects and the default one ``manual_seed`` resets.

Every random op in zerograd draws from a ``Generator`` (the default one unless a
``generator=`` is given), never from NumPy's global state, so runs are repeatable and
the state can be saved in a checkpoint and restored.
"""
import contextlib
import json

from zerograd.backend import xp

_DEFAULT_SEED = 67280421310721  # torch's default seed, for a familiar starting point


class Generator:
    """A random number generator (PCG64 underneath) with torch's seeding methods."""

    def __init__(self, device="cpu"):
        from zerograd.device import check_device
        check_device(device)
        self._seed = _DEFAULT_SEED
        self._rng = xp.random.Generator(xp.random.PCG64(self._seed))

    @property
    def device(self):
        from zerograd.device import CPU
        return CPU

    def manual_seed(self, seed: int) -> "Generator":
        seed = int(seed)
        if seed < 0:
            seed &= (1 << 64) - 1  # torch accepts negative seeds by wrapping them
        self._seed = seed
        self._rng = xp.random.Generator(xp.random.PCG64(seed))
        return self

    def seed(self) -> int:
        fresh = int(xp.random.SeedSequence().entropy % (1 << 63))
        self.manual_seed(fresh)
        return fresh

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> str:
        """The full state as a JSON string (safe to store in a checkpoint; no pickle)."""
        return json.dumps({"seed": self._seed, "bit_generator": self._rng.bit_generator.state})

    def set_state(self, state) -> "Generator":
        if isinstance(state, bytes):
            state = state.decode()
        data = json.loads(state) if isinstance(state, str) else state
        self._seed = data["seed"]
        self._rng.bit_generator.state = data["bit_generator"]
        return self

    @property
    def rng(self):
        """The backend random generator that ops draw from."""
        return self._rng


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator: every later random op becomes repeatable."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> str:
    return default_generator.get_state()


def set_rng_state(state) -> None:
    default_generator.set_state(state)


def rng_of(generator=None):
    """The backend random generator of ``generator`` (the default one when None)."""
    if generator is None:
        return default_generator.rng
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a zerograd.Generator, got {type(generator).__name__}")
    return generator.rng


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True):
    """Run a block with the default generator's state saved before and restored after."""
    if not enabled:
        yield
        return
    state = default_generator.get_state()
    try:
        yield
    finally:
        default_generator.set_state(state)
