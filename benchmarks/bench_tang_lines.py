"""Does a char-LSTM trained on the Tang poems write lines of 5 or 7 characters with
punctuation where the poems have it? Trains and samples through the CLI, then counts.

    python benchmarks/bench_tang_lines.py [--epochs 20] [--hidden-size 256]
                                          [--num-layers 2] [--samples 6] [--out DIR]

Trains ``zerograd train --model lstm-lm --data text:tang300`` (a few minutes of CPU at the
defaults), then ``zerograd generate RUN --prefix P --num-chars N --temperature T --seed S``
for several prefixes (a poem's first clause) and seeds, from the last epoch's checkpoint
(``--checkpoint best``: the one of lowest validation loss). In the corpus each verse line is a couplet: two clauses of
5 (or two of 7) characters, each followed by a punctuation mark (``，`` then ``。``); titles
(``《…》``) and author lines (``作者：…``) are the other lines. Every complete generated
line (the last one may be cut off) that is not a title or author line counts as regular
when it has that shape; the script prints each sample, the share of regular lines and the
share of clauses that are 5 or 7 characters long, how many generated lines are copied
verbatim from the corpus, and the same counts over the corpus itself for reference. Exit status 1 when fewer than ``--min-share`` of the lines are
regular.
"""
import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKS = "，。！？；"
CLAUSE = re.compile(f"([^{MARKS}]*)[{MARKS}]")
VERSE = re.compile(f"^(?:[^{MARKS}]{{5}}[{MARKS}])+$"
                   f"|^(?:[^{MARKS}]{{7}}[{MARKS}])+$")
PREFIXES = ["床前明月光，", "春眠不觉晓，", "白日依山尽，", "国破山河在，", "红豆生南国，",
            "独在异乡为异客，"]


def verse_lines(text, drop_last):
    """The lines that are neither titles, authors nor empty (the last dropped if cut)."""
    lines = text.split("\n")
    if drop_last:
        lines = lines[:-1]
    return [line.strip() for line in lines
            if line.strip() and not line.startswith("《") and not line.startswith("作者")]


def shape_counts(lines):
    """(regular lines, lines, 5-or-7 clauses, clauses)."""
    clauses = [m.group(1) for line in lines for m in CLAUSE.finditer(line)]
    return (sum(bool(VERSE.match(line)) for line in lines), len(lines),
            sum(len(c) in (5, 7) for c in clauses), len(clauses))


def cli(*args):
    done = subprocess.run([sys.executable, "-m", "zerograd", *args], cwd=ROOT,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"zerograd {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--checkpoint", choices=["last", "best"], default="last")
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--embed-size", type=int, default=64)
    parser.add_argument("--samples", type=int, default=6)
    parser.add_argument("--num-chars", type=int, default=200)
    parser.add_argument("--temperature", type=float, default=0.6)
    parser.add_argument("--min-share", type=float, default=0.8)
    parser.add_argument("--out", default=None, help="run folder (default: a temporary one)")
    parser.add_argument("--reuse", action="store_true", help="sample from --out as it is")
    args = parser.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="tang-lines-")
    if not args.reuse:
        cmd = ["train", "--model", "lstm-lm", "--data", "text:tang300", "--epochs",
               str(args.epochs), "--hidden-size", str(args.hidden_size), "--num-layers",
               str(args.num_layers), "--embed-size", str(args.embed_size), "--out", out,
               "--overwrite", "--no-progress", "--json"]
        print("zerograd " + " ".join(cmd))
        summary = json.loads(cli(*cmd))
        print({k: summary[k] for k in ("epochs", "seconds", "train_ppl", "test_ppl")})
    sys.path.insert(0, str(ROOT))
    from zerograd.datasets import load_text
    corpus_lines = verse_lines(load_text("tang300"), drop_last=False)
    checkpoint = out
    if args.checkpoint == "last":
        checkpoint = str(sorted(Path(out, "checkpoints").glob("epoch-*.safetensors"))[-1])
    print(f"sampling from {checkpoint}")
    totals, copied, known = [0, 0, 0, 0], 0, set(corpus_lines)
    for k in range(args.samples):
        prefix = PREFIXES[k % len(PREFIXES)]
        text = cli("generate", checkpoint, "--prefix", prefix, "--num-chars", str(args.num_chars),
                   "--temperature", str(args.temperature), "--seed", str(k), "--json")
        text = json.loads(text)["text"]
        lines = verse_lines(text, drop_last=True)
        counts = shape_counts(lines)
        copied += sum(line in known for line in lines[1:])  # the first holds the prefix
        totals = [a + b for a, b in zip(totals, counts)]
        print(f"--- sample {k} (prefix {prefix}, seed {k}): {counts[0]}/{counts[1]} regular "
              f"lines\n{text}")
    corpus = shape_counts(corpus_lines)
    share = totals[0] / max(totals[1], 1)
    print(f"generated: {totals[0]}/{totals[1]} lines regular ({share:.1%}), "
          f"{totals[2]}/{totals[3]} clauses of 5 or 7 characters "
          f"({totals[2] / max(totals[3], 1):.1%}); {copied} lines copied from the corpus")
    print(f"corpus:    {corpus[0]}/{corpus[1]} lines regular ({corpus[0] / corpus[1]:.1%}), "
          f"{corpus[2]}/{corpus[3]} clauses of 5 or 7 characters "
          f"({corpus[2] / corpus[3]:.1%})")
    return 0 if share >= args.min_share else 1


if __name__ == "__main__":
    sys.exit(main())
