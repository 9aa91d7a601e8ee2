"""The attention models through the ``zerograd`` command: train, resume, generate, translate,
info, heat maps, and one clear line for each bad input.

Tiny models, tiny corpora, one epoch each, in-process (``zerograd.cli.main``).
"""
import csv
import json

import pytest

from zerograd.cli import main

SMALL = ["--epochs", "1", "--batch-size", "8", "--embed-size", "8", "--hidden-size", "16",
         "--num-layers", "1", "--no-progress"]
HEADS = ["--num-heads", "2"]
STORY = "\n\n".join(
    f"The cat number {i} sat on the mat. The dog ran to the park! A bird sang a song; "
    f"then it was quiet. Everyone slept well." for i in range(12))


def cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("transformers")
    story = folder / "story.txt"
    story.write_text(STORY, encoding="utf-8")
    jobs = {
        "lm": ["--model", "transformer-lm", "--data", f"text:{story}", "--num-steps", "8",
               "--positions", "sinusoidal", *HEADS],
        "ts": ["--model", "transformer-seq2seq", "--data", "seq2seq:reverse", "--limit", "40",
               *HEADS],
        "sa": ["--model", "seq2seq-attn", "--data", "seq2seq:reverse", "--limit", "40"],
        "bert": ["--model", "bert-tiny", "--data", f"text:{story}", "--num-steps", "32",
                 *HEADS],
    }
    for name, args in jobs.items():
        assert main(["train", *args, *SMALL, "--out", str(folder / name), "-q"]) == 0, name
    return folder


def metrics(run):
    return list(csv.DictReader(open(run / "metrics.csv")))


def test_transformer_lm_trains_and_generates_with_top_k(runs, capsys):
    run = runs / "lm"
    assert float(metrics(run)[0]["test_ppl"]) > 1
    assert json.loads((run / "config.json").read_text())["positions"] == "sinusoidal"
    code, out, _ = cli(capsys, "generate", run, "--prefix", "the cat", "--num-chars", "20",
                       "--top-k", "3", "--seed", "1", "--json")
    result = json.loads(out)
    assert code == 0 and result["text"].startswith("the cat") and len(result["generated"]) == 20
    # longer than the 8 positions of its table (it slides its window while generating)
    code, _, err = cli(capsys, "generate", run, "--prefix", "the cat sat on")
    assert code == 2 and err.count("\n") == 1 and "positional table holds 8" in err


@pytest.mark.parametrize("name", ["ts", "sa"])
def test_seq2seq_models_train_translate_and_draw_heat_maps(runs, capsys, name):
    run = runs / name
    row = metrics(run)[0]
    assert 0 <= float(row["test_acc"]) <= 1 and float(row["test_ppl"]) > 1
    png = run / "attention.png"
    assert png.is_file() and png.read_bytes()[:4] == b"\x89PNG"
    code, out, _ = cli(capsys, "translate", run, "abc", "hello", "--json")
    assert code == 0 and [r["input"] for r in json.loads(out)] == ["abc", "hello"]


def test_translate_refuses_a_text_longer_than_the_positional_table(runs, capsys):
    code, _, err = cli(capsys, "translate", runs / "ts", "abcdefghijkl")
    assert code == 2 and err.count("\n") == 1 and "reads at most 9" in err
    assert "Traceback" not in err


def test_bert_reports_masked_lm_and_next_sentence_accuracy(runs, capsys):
    run = runs / "bert"
    rows = metrics(run)
    assert list(rows[0]) == ["epoch", "train_loss", "train_mlm_acc", "train_nsp_acc",
                             "test_loss", "test_mlm_acc", "test_nsp_acc", "lr", "seconds"]
    assert 0 <= float(rows[0]["test_mlm_acc"]) <= 1 and 0 <= float(rows[0]["test_nsp_acc"]) <= 1
    summary = json.loads((run / "summary.json").read_text())
    assert summary["test_mlm_acc"] == pytest.approx(float(rows[0]["test_mlm_acc"]))
    code, out, _ = cli(capsys, "info", run)
    assert code == 0 and "masked-LM accuracy" in out and "BERT pretraining" in out


def test_bert_resumes_to_more_epochs(runs, capsys):
    code, out, _ = cli(capsys, "resume", runs / "bert", "--epochs", "2", "-q")
    assert code == 0 and "masked-LM accuracy" in out
    assert [r["epoch"] for r in metrics(runs / "bert")] == ["1", "2"]


def test_generate_and_translate_refuse_a_bert_checkpoint(runs, capsys):
    for command in (["generate", runs / "bert"], ["translate", runs / "bert", "abc"]):
        code, _, err = cli(capsys, *command)
        assert code == 2 and err.count("\n") == 1 and "bert-tiny" in err
        assert "BERT pretraining" in err and "Traceback" not in err


def test_init_from_warm_starts_a_transformer_lm(runs, tmp_path, capsys):
    code, _, err = cli(capsys, "train", "--model", "transformer-lm", "--data",
                       f"text:{runs / 'story.txt'}", "--num-steps", "8", "--positions",
                       "sinusoidal", *HEADS, *SMALL, "--init-from", runs / "lm", "--out",
                       tmp_path / "warm", "-q")
    assert code == 0, err


def test_init_from_with_another_positional_table_names_the_flag(runs, tmp_path, capsys):
    code, _, err = cli(capsys, "train", "--model", "transformer-lm", "--data",
                       f"text:{runs / 'story.txt'}", "--num-steps", "6", "--positions",
                       "sinusoidal", *HEADS, *SMALL, "--init-from", runs / "lm", "--out",
                       tmp_path / "warm")
    assert code == 2 and err.count("\n") == 1 and "pass --num-steps 8" in err, err


@pytest.mark.parametrize("args, message", [
    (["--model", "lstm-lm", "--data", "text:tang300", "--num-heads", "2"],
     "--num-heads applies to the Transformer models"),
    (["--model", "bert-tiny", "--data", "text:tang300", "--positions", "learned"],
     "--positions applies to transformer-lm"),
    (["--model", "transformer-lm", "--data", "text:tang300", "--positions", "rotary"],
     "unknown --positions 'rotary'"),
    (["--model", "transformer-lm", "--data", "text:tang300", "--embed-size", "10",
      "--num-heads", "4"], "--embed-size 10 must be divisible by --num-heads 4"),
    (["--model", "bert-tiny", "--data", "seq2seq:reverse"], "BERT pretrains on text"),
    (["--model", "transformer-seq2seq", "--data", "text:tang300"], "seq2seq models train on"),
])
def test_bad_options_are_one_line_errors(args, message, capsys, tmp_path):
    code, _, err = cli(capsys, "train", *args, "--out", tmp_path / "run")
    assert code == 2 and err.count("\n") == 1 and message in err, err


def test_bert_on_text_without_sentence_pairs_is_one_line(tmp_path, capsys):
    one = tmp_path / "one.txt"
    one.write_text("Just one sentence here.", encoding="utf-8")
    code, _, err = cli(capsys, "train", "--model", "bert-tiny", "--data", f"text:{one}",
                       "--out", tmp_path / "run")
    assert code == 2 and err.count("\n") == 1 and "at least 2 paragraphs" in err
