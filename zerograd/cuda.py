"""``zerograd.cuda``: answers device queries the way torch does on a machine without a GPU."""


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def manual_seed(seed: int) -> None:  # accepted so seeding code written for GPUs runs
    pass


def manual_seed_all(seed: int) -> None:
    pass
