"""README.zh-CN.md, the Chinese front door, names the same commands as README.md.

The commands are read from code (fenced blocks and inline `code` spans): the words after
``make`` and after ``zerograd`` (subcommands; ``zerograd --version``, module paths such
as ``zerograd.viz`` and Python's ``from zerograd import`` are not commands). The test reports, for each README, the commands
the other one names and it lacks.
"""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENGLISH, CHINESE = ROOT / "README.md", ROOT / "README.zh-CN.md"

_FENCED = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_INLINE = re.compile(r"`([^`\n]+)`")
_COMMAND = re.compile(r"(?<![\w./-])(make|zerograd)[ \t]+([a-z][a-z0-9-]*)")
_PYTHON = {"import", "as"}  # `from zerograd import nn`, `import zerograd as torch`


def code_of(markdown):
    """The text of every fenced code block and inline code span of a Markdown document."""
    blocks = _FENCED.findall(markdown)
    prose = _FENCED.sub("", markdown)
    return blocks + _INLINE.findall(prose) + \
        [span for block in blocks for span in _INLINE.findall(block)]


def commands(markdown):
    """``{"make demo", "zerograd train", ...}`` named in the code of ``markdown``."""
    return {f"{tool} {word}" for code in code_of(markdown)
            for tool, word in _COMMAND.findall(code) if word not in _PYTHON}


def test_commands_parser():
    text = ("# t\n\nRun `make demo`, then `zerograd --version` and `zerograd.viz`.\n\n"
            "```bash\nmake test   # runs `zerograd train`\nzerograd eval runs/x\n"
            ".venv/bin/zerograd info runs/x\nfrom zerograd import nn\n```\n\nNot code: make bench, zerograd predict.\n")
    assert commands(text) == {"make demo", "make test", "zerograd train", "zerograd eval"}


def test_both_readmes_exist_and_name_the_basics():
    for path in (ENGLISH, CHINESE):
        found = commands(path.read_text(encoding="utf-8"))
        assert {"make demo", "make test", "zerograd train"} <= found, path.name


def test_chinese_readme_names_the_english_commands():
    english = commands(ENGLISH.read_text(encoding="utf-8"))
    chinese = commands(CHINESE.read_text(encoding="utf-8"))
    missing_zh = sorted(english - chinese)
    missing_en = sorted(chinese - english)
    assert not missing_zh and not missing_en, (
        f"README.zh-CN.md lacks {missing_zh or 'nothing'}; "
        f"README.md lacks {missing_en or 'nothing'}: keep both READMEs in step")


def test_chinese_readme_shows_tang_poem_generation():
    text = CHINESE.read_text(encoding="utf-8")
    code = "\n".join(code_of(text))
    assert "zerograd train --model lstm-lm --data text:tang300" in code
    assert re.search(r'zerograd generate \S+ --prefix "床前明月光"', code)
    for script in sorted((ROOT / "examples").glob("[0-9][0-9]_*.py")):
        assert f"`{script.name}`" in text, f"the examples table lacks {script.name}"


@pytest.mark.parametrize("source, target", [(ENGLISH, "README.zh-CN.md"),
                                            (CHINESE, "README.md")])
def test_readmes_link_each_other(source, target):
    assert f"]({target})" in source.read_text(encoding="utf-8"), \
        f"{source.name} should link to {target}"
