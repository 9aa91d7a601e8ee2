"""The CPU backend's allocator setting: glibc keeps freed large blocks for reuse."""
import platform

import pytest

from zerograd.backend.cpu import memory


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="mallopt is glibc's")
def test_glibc_takes_both_thresholds():
    assert memory.keep_freed_blocks() is True


def test_environment_turns_it_off(monkeypatch):
    monkeypatch.setenv("ZEROGRAD_KEEP_FREED_MEMORY", "0")
    assert memory.keep_freed_blocks() is False
