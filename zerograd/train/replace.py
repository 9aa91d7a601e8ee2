"""``--overwrite`` without a window where neither run exists.

The new run is built in a hidden sibling folder, ``.NAME.zerograd-new-PID``. Only once it
has saved its first checkpoint is it swapped in: the old folder is renamed aside
(``.NAME.zerograd-old-PID``), the new one takes its name, and the old one is deleted. A
new run that fails, or is interrupted, before that leaves the old run exactly as it was.

Renames within one parent folder are atomic, but two renames are not one step. A
process killed between them (or before deleting its staging folder) leaves the hidden
folders behind with a pid that no longer runs; ``recover`` finishes or undoes that swap
the next time the run folder is used.
"""
import os
import re
import shutil

from zerograd.io.atomic import process_running
from zerograd.train.config import UsageError
from zerograd.train.run import RUN_FILES, RunFolder

__all__ = ["NewRun", "Replacement", "recover"]

_ASIDE = re.compile(r"^\.(?P<name>.+)\.zerograd-(?P<role>new|old)-(?P<pid>\d+)$")


def _aside(path, role):
    """This process's hidden sibling of ``path`` for the new or the old run."""
    parent, name = os.path.split(os.path.abspath(path))
    return os.path.join(parent, f".{name}.zerograd-{role}-{os.getpid()}")


def _running(pid):
    return process_running(pid) is not False  # unknown (Windows): leave its folders alone


def recover(path):
    """Finish or undo a swap that a killed ``--overwrite`` left half done at ``path``."""
    parent, name = os.path.split(os.path.abspath(path))
    try:
        entries = os.listdir(parent or ".")
    except OSError:
        return
    found = {}
    for entry in entries:
        match = _ASIDE.match(entry)
        if match and match.group("name") == name and not _running(int(match.group("pid"))):
            found.setdefault(match.group("pid"), {})[match.group("role")] = \
                os.path.join(parent, entry)
    for roles in found.values():
        if not os.path.exists(path) and "old" in roles:
            # Killed between the two renames: the new run already had its checkpoint.
            os.rename(roles.pop("new") if "new" in roles else roles.pop("old"), path)
        for leftover in roles.values():
            shutil.rmtree(leftover, ignore_errors=True)


class Replacement:
    """A new run built aside, to replace the run at ``target`` once it has a checkpoint."""

    def __init__(self, target):
        self.target = RunFolder(target)
        foreign = self.target.foreign_entries()
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise UsageError(f"--overwrite replaces a whole run folder, but {self.target.path} "
                             f"also holds files no run writes ({shown}); move them away or "
                             "choose another --out")
        self.staging = RunFolder(_aside(target, "new"))
        shutil.rmtree(self.staging.path, ignore_errors=True)  # a leftover of this very pid
        self.done = False

    def commit(self, run):
        """Swap the staged run (``run``, a RunFolder at the staging path) into place."""
        if self.done:
            return
        old = _aside(self.target.path, "old")
        target = os.path.abspath(self.target.path)
        # a relative path through the old folder (--out .) would follow it aside
        inside = os.path.commonpath([target, os.getcwd()]) == target
        os.rename(target, old)
        os.rename(self.staging.path, target)
        run.move_to(target if inside else self.target.path)
        self.done = True
        shutil.rmtree(old, ignore_errors=True)

    def abort(self):
        """Drop the staged run; the old one was never touched."""
        if not self.done:
            shutil.rmtree(self.staging.path, ignore_errors=True)


class NewRun:
    """Where ``fit`` writes a new run, and how a failure before its first checkpoint is
    undone: a replacement is dropped (the old run stays), a fresh folder is removed again
    (only what this run wrote in it), so the same command can simply be run again."""

    def __init__(self, target, overwrite):
        target = RunFolder(target)
        self.replacement = None
        if overwrite and target.holds_run():
            self.replacement = Replacement(target.path)
        self.run = self.replacement.staging if self.replacement else target
        self.target = target
        self.committed = False
        self._before = set(os.listdir(target.path)) if os.path.isdir(target.path) else None

    def create(self):
        self.run.create()

    def saved_checkpoint(self):
        """The run saved a checkpoint: from now on it stands on its own."""
        if not self.committed and self.replacement is not None:
            self.replacement.commit(self.run)
        self.committed = True

    def undo(self):
        """Called when the run fails; a no-op once it has a checkpoint."""
        if self.committed:
            return
        if self.replacement is not None:
            self.replacement.abort()
        elif self._before is None or not (self._before & set(RUN_FILES + ("checkpoints",))):
            self.target.remove_run_files(remove_folder=self._before is None)

    def outcome(self):
        """What a failure before the first checkpoint leaves, in words."""
        if self.committed:
            return None
        if self.replacement is not None:
            return f"{self.target.path} still holds the previous run, unchanged"
        return "nothing was saved"
