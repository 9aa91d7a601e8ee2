"""Seeded randomness: ``Generator`` objects, one default generator per device, ``manual_seed``.

Every random op in zerograd draws from a ``Generator`` (the default one of the device it
creates on, unless a ``generator=`` is given), never from NumPy's global state, so runs
are repeatable and the state can be saved in a checkpoint and restored. A generator
draws on its own device: its backend supplies the underlying bit generator (NumPy's
PCG64 on the CPU), so a CUDA generator would produce CUDA arrays directly.
"""
import contextlib
import json
import secrets

from zerograd.device import CPU, device as _device, resolve

_DEFAULT_SEED = 67280421310721  # torch's default seed, for a familiar starting point


class Generator:
    """A random number generator of one device, with torch's seeding methods."""

    def __init__(self, device="cpu"):
        self._backend, self._index = resolve(device)
        self._device = CPU if self._backend.type == "cpu" else _device(self._backend.type,
                                                                        self._index)
        self.manual_seed(_DEFAULT_SEED)

    @property
    def device(self):
        return self._device

    def manual_seed(self, seed: int) -> "Generator":
        seed = int(seed)
        if seed < 0:
            seed &= (1 << 64) - 1  # torch accepts negative seeds by wrapping them
        self._seed = seed
        self._rng = self._backend.new_random_generator(seed, self._index)
        return self

    def seed(self) -> int:
        fresh = secrets.randbits(63)
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
        """The backend random generator that ops draw from (its arrays live on ``device``)."""
        return self._rng

    def __repr__(self):
        return f"<zerograd.Generator on {self._device}>"


default_generator = Generator()

# The default generators of the other devices, made on first use: (type, index) -> Generator.
_DEVICE_DEFAULTS = {}
# The seed a default generator made later starts from: manual_seed's, or the one last
# given to its device type (zerograd.cuda.manual_seed_all), as if seeded at that call.
_SEEDS = {None: _DEFAULT_SEED}


def _key(backend, index):
    return backend.type, index or 0


def default_generator_of(device=None) -> Generator:
    """The default generator of ``device`` (the CPU's ``default_generator`` when None)."""
    if device is None:
        return default_generator
    backend, index = resolve(device)
    if backend.type == "cpu":
        return default_generator
    key = _key(backend, index)
    gen = _DEVICE_DEFAULTS.get(key)
    if gen is None:
        gen = _DEVICE_DEFAULTS[key] = Generator(_device(backend.type, index))
        gen.manual_seed(_SEEDS.get(backend.type, _SEEDS[None]))
    return gen


def manual_seed(seed: int) -> Generator:
    """Seed the default generator of every device: every later random op becomes repeatable."""
    _SEEDS.clear()
    _SEEDS[None] = seed
    for gen in _DEVICE_DEFAULTS.values():
        gen.manual_seed(seed)
    return default_generator.manual_seed(seed)


def manual_seed_device_type(device_type: str, seed: int, index=None) -> None:
    """Seed the default generators of one device type (all its devices when index is None)."""
    if index is not None:
        default_generator_of(_device(device_type, index)).manual_seed(seed)
        return
    _SEEDS[device_type] = seed
    for (kind, _), gen in _DEVICE_DEFAULTS.items():
        if kind == device_type:
            gen.manual_seed(seed)


def seed() -> int:
    """Seed every device's default generator with one fresh non-deterministic seed."""
    fresh = secrets.randbits(63)
    manual_seed(fresh)
    return fresh


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> str:
    return default_generator.get_state()


def set_rng_state(state) -> None:
    default_generator.set_state(state)


def rng_of(generator=None, device=None):
    """The backend random generator to draw from: ``generator``'s, or the default one of
    ``device`` (the CPU's when both are None). A generator of another device is refused."""
    if generator is None:
        if device is None or device is CPU:
            return default_generator._rng
        return default_generator_of(device)._rng
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a zerograd.Generator, got {type(generator).__name__}")
    if device is not None:
        wanted = resolve(device)[0].type
        if generator._backend.type != wanted:
            raise RuntimeError(f"Expected a '{wanted}' device type for generator but found "
                               f"'{generator._backend.type}'")
    return generator._rng


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True):
    """Run a block with the default generators' states saved before and restored after.

    The CPU's is always saved; ``devices`` lists other devices whose default generators
    are saved too (all that exist when None).
    """
    if not enabled:
        yield
        return
    gens = [default_generator] + ([default_generator_of(d) for d in devices] if devices
                                  is not None else list(_DEVICE_DEFAULTS.values()))
    states = [g.get_state() for g in gens]
    try:
        yield
    finally:
        for g, state in zip(gens, states):
            g.set_state(state)
