"""The sequence-model side of the ``zerograd`` command: train on text, resume, warm start,
generate, translate, and one clear line for each bad input.

Runs in-process (``zerograd.cli.main``) with tiny models and corpora to stay fast.
"""
import csv
import json
import os

import pytest

from zerograd.cli import main
from zerograd.datasets.text_corpora import FORTUNE_DIR

TINY = ["--epochs", "1", "--batch-size", "4", "--num-steps", "8", "--embed-size", "8",
        "--hidden-size", "16", "--no-progress"]
POEM = "床前明月光，疑是地上霜。\n举头望明月，低头思故乡。\n" * 30
HAS_ZH = os.path.isfile(os.path.join(FORTUNE_DIR, "tang300"))


def cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("text")
    corpus = folder / "poem.txt"
    corpus.write_text(POEM, encoding="utf-8")
    code = main(["train", "--model", "lstm-lm", "--data", f"text:{corpus}", "--out",
                 str(folder / "lm"), *TINY, "--epochs", "2"])
    assert code == 0
    return folder


def test_lm_run_folder_metrics_and_sample(lm_run):
    run = lm_run / "lm"
    for name in ("config.json", "metrics.csv", "curves.png", "summary.json",
                 "checkpoints/best.safetensors", "checkpoints/epoch-0002.safetensors"):
        assert (run / name).is_file(), name
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert list(rows[0]) == ["epoch", "train_loss", "train_ppl", "test_loss", "test_ppl", "lr",
                             "seconds"]
    assert len(rows) == 2 and float(rows[1]["test_ppl"]) > 1
    summary = json.loads((run / "summary.json").read_text())
    assert summary["test_ppl"] == pytest.approx(float(rows[1]["test_ppl"]))
    config = json.loads((run / "config.json").read_text())
    assert config["clip_grad"] == 1.0 and config["num_steps"] == 8
    # the vocabulary is JSON in the checkpoint's metadata (its readable sidecar too)
    side = json.loads((run / "checkpoints" / "best.json").read_text())
    assert "床" in json.dumps(side, ensure_ascii=False)


def test_lm_epoch_lines_show_perplexities_and_a_sample(tmp_path, capsys):
    corpus = tmp_path / "poem.txt"
    corpus.write_text(POEM, encoding="utf-8")
    code, out, err = cli(capsys, "train", "--model", "gru-lm", "--data", f"text:{corpus}",
                         "--out", tmp_path / "run", *TINY, "--clip-grad", "0.5")
    assert code == 0, err
    assert "ppl" in err and "val loss" in err and "  sample: " in err
    assert out.startswith("validation perplexity: ")


def test_generate_is_seeded_and_respects_options(lm_run, capsys):
    args = ["generate", lm_run / "lm", "--prefix", "床前明月光", "--num-chars", "12",
            "--temperature", "0.8", "--seed", "3"]
    code, first, err = cli(capsys, *args)
    assert code == 0, err
    _, second, _ = cli(capsys, *args)
    assert first == second and first.startswith("床前明月光")
    assert len(first.rstrip("\n")) == 5 + 12
    code, out, _ = cli(capsys, "generate", lm_run / "lm", "--prefix", "明月", "--num-chars",
                       "5", "--top-k", "1", "--json")
    greedy = json.loads(out)
    code, out, _ = cli(capsys, "generate", lm_run / "lm", "--prefix", "明月", "--num-chars",
                       "5", "--temperature", "0", "--json")
    assert json.loads(out)["generated"] == greedy["generated"]  # top-1 sampling is greedy


def test_info_describes_a_language_model(lm_run, capsys):
    code, out, err = cli(capsys, "info", lm_run / "lm")
    assert code == 0, err
    assert "lstm-lm (RNNLanguageModel)" in out and "perplexity" in out
    code, out, _ = cli(capsys, "eval", lm_run / "lm")
    assert code != 0


def test_resume_and_init_from(lm_run, capsys):
    code, _, err = cli(capsys, "resume", lm_run / "lm", "--epochs", "3", "--no-progress")
    assert code == 0, err
    assert len(list(csv.DictReader(open(lm_run / "lm" / "metrics.csv")))) == 3
    corpus = lm_run / "poem.txt"
    code, _, err = cli(capsys, "train", "--model", "lstm-lm", "--data", f"text:{corpus}",
                       "--out", lm_run / "warm", *TINY, "--init-from", lm_run / "lm")
    assert code == 0, err
    config = json.loads((lm_run / "warm" / "config.json").read_text())
    assert config["init_from"] == str(lm_run / "lm")


def test_resume_continues_the_same_trajectory(tmp_path, capsys):
    corpus = tmp_path / "poem.txt"
    corpus.write_text(POEM, encoding="utf-8")
    common = ["--model", "rnn-lm", "--data", f"text:{corpus}", *TINY, "--epochs", "2"]
    assert cli(capsys, "train", *common, "--out", tmp_path / "a")[0] == 0
    from zerograd.train.config import resolve
    from zerograd.train.trainer import fit, resume
    cfg = resolve({}, {"model": "rnn-lm", "data": f"text:{corpus}", "epochs": 2,
                       "batch_size": 4, "num_steps": 8, "embed_size": 8, "hidden_size": 16})
    fit(cfg, out=str(tmp_path / "b"), quiet=True, stop_after=1, plots=False)
    resume(str(tmp_path / "b"), quiet=True, plots=False)
    a = list(csv.DictReader(open(tmp_path / "a" / "metrics.csv")))
    b = list(csv.DictReader(open(tmp_path / "b" / "metrics.csv")))
    assert [r["test_loss"] for r in a] == [r["test_loss"] for r in b]


@pytest.mark.skipif(not HAS_ZH, reason="fortunes-zh is not installed (make data)")
def test_tang300_corpus_trains(tmp_path, capsys):
    code, out, err = cli(capsys, "train", "--model", "lstm-lm", "--data", "text:tang300",
                         "--limit", "3000", "--out", tmp_path / "tang", *TINY)
    assert code == 0, err
    assert "sample: " in out


def test_seq2seq_reverse_train_and_translate(tmp_path, capsys):
    code, out, err = cli(capsys, "train", "--model", "seq2seq-gru", "--data", "seq2seq:reverse",
                         "--limit", "200", "--out", tmp_path / "s2s", "--epochs", "1",
                         "--hidden-size", "16", "--embed-size", "8", "--no-progress")
    assert code == 0, err
    assert "exact match: " in out and "BLEU" in out
    rows = list(csv.DictReader(open(tmp_path / "s2s" / "metrics.csv")))
    assert {"test_acc", "test_bleu", "test_ppl"} <= set(rows[0])
    code, out, err = cli(capsys, "translate", tmp_path / "s2s", "abc", "xyz", "--json")
    assert code == 0, err
    results = json.loads(out)
    assert [r["input"] for r in results] == ["abc", "xyz"]
    assert all(len(r["tokens"]) <= 10 for r in results)


def test_seq2seq_from_a_file(tmp_path, capsys):
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("go .\tva !\nhi .\tsalut !\nrun !\tcours !\nwho ?\tqui ?\n" * 10,
                     encoding="utf-8")
    code, out, err = cli(capsys, "train", "--model", "seq2seq-gru", "--data",
                         f"seq2seq:{pairs}", "--out", tmp_path / "nmt", "--epochs", "1",
                         "--hidden-size", "16", "--embed-size", "8", "--no-progress")
    assert code == 0, err
    code, out, err = cli(capsys, "translate", tmp_path / "nmt", "go .")
    assert code == 0 and out.startswith("go . => "), err


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clf")
    assert main(["train", "--data", "iris", "--epochs", "1", "--out", str(folder / "iris"),
                 "--no-progress", "--quiet"]) == 0
    return folder / "iris"


def _bad_cases(lm_run, classifier_run):
    empty = lm_run / "empty.txt"
    empty.write_text("", encoding="utf-8")
    binary = lm_run / "binary.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    short = lm_run / "short.txt"
    short.write_text("ab\n", encoding="utf-8")
    lm = lm_run / "lm"
    return [
        (["train", "--model", "lstm-lm", "--data", "text:nosuchcorpus"], "unknown corpus"),
        (["train", "--model", "lstm-lm", "--data", f"text:{empty}"], "empty"),
        (["train", "--model", "lstm-lm", "--data", f"text:{binary}"], "binary.bin"),
        (["train", "--model", "lstm-lm", "--data", f"text:{short}"], "too short to split"),
        (["train", "--model", "lstm-lm", "--data", f"text:{lm_run / 'missing.txt'}"],
         "missing.txt"),
        (["train", "--model", "lstm-lm", "--data", "text:"], "name a corpus"),
        (["train", "--model", "seq2seq-gru", "--data", "seq2seq:nosuchtask"],
         "unknown seq2seq task"),
        (["train", "--model", "lstm-lm", "--data", "seq2seq:reverse"], "does not fit"),
        (["train", "--model", "mlp", "--data", "text:tang300"], "train a sequence model"),
        (["train", "--model", "lstm-lm", "--data", "digits"], "sequence model"),
        (["train", "--data", "digits", "--num-steps", "5"], "--num-steps applies to"),
        (["train", "--model", "lstm-lm", "--data", f"text:{lm_run / 'poem.txt'}",
          "--clip-grad", "-1"], "--clip-grad must be"),
        (["generate", lm, "--prefix", "hello"], "never saw in training"),
        (["generate", classifier_run, "--prefix", "a"], "not a language"),
        (["generate", lm, "--prefix", "明", "--top-k", "0"], "--top-k must be at least 1"),
        (["generate", lm, "--prefix", "明", "--temperature", "-1"], "--temperature must be"),
        (["translate", lm, "abc"], "use `zerograd generate`"),
        (["translate", classifier_run, "abc"], "not a sequence-to-sequence"),
        (["generate", lm_run / "nothing-here"], "not found"),
    ]


def test_bad_input_is_one_clear_line(lm_run, classifier_run, capsys, monkeypatch):
    monkeypatch.chdir(lm_run)
    monkeypatch.delenv("ZEROGRAD_DEBUG", raising=False)
    for args, message in _bad_cases(lm_run, classifier_run):
        code, out, err = cli(capsys, *args, "--no-progress" if args[0] == "train" else "--quiet")
        lines = err.strip().splitlines()
        assert code != 0, (args, err)
        assert len(lines) == 1 and lines[0].startswith("zerograd: error: "), (args, err)
        assert message in lines[0], (args, lines[0])
        assert "internal error" not in lines[0], (args, lines[0])
        assert out == "", (args, out)


def test_default_run_folder_names_the_corpus_or_task(tmp_path):
    from zerograd.train.run import RunFolder
    assert RunFolder.default_path("lstm-lm", "text:tang300", str(tmp_path)).endswith(
        "lstm-lm-text-tang300")
    assert RunFolder.default_path("seq2seq-gru", "seq2seq:reverse", str(tmp_path)).endswith(
        "seq2seq-gru-seq2seq-reverse")
    # a path is not put into a folder name
    assert RunFolder.default_path("lstm-lm", "text:/data/my.txt", str(tmp_path)).endswith(
        "lstm-lm-text")
