"""Using a trained sequence model: ``zerograd generate`` and ``zerograd translate``.

The checkpoint's metadata holds the model's name and sizes (config) and its vocabularies
(plain JSON values); the model is rebuilt from them and the weights loaded. Nothing in the
file is executed.
"""
from zerograd.datasets.seq2seq import build_array_nmt, preprocess_nmt
from zerograd.datasets.text import Vocab
from zerograd.io import CheckpointError, load
from zerograd.models.decoding import greedy_decode_steps, has_decode_step
from zerograd.models.seq2seq import greedy_decode
from zerograd.random import Generator
from zerograd.train.config import UsageError
from zerograd.train.run import find_checkpoint
from zerograd.train.text_data import build_text_model, clean_prefix, generate_tokens

__all__ = ["TextModel", "load_text_model", "is_text_checkpoint", "generate", "translate",
           "describe_text"]

_COMMAND = {"lm": "generate", "seq2seq": "translate"}
_MODELS_FOR = {"lm": "rnn-lm, gru-lm, lstm-lm or transformer-lm",
               "seq2seq": "seq2seq-gru, seq2seq-attn or transformer-seq2seq"}


class TextModel:
    def __init__(self, path, state, model, task, vocabs):
        self.path, self.state, self.model, self.task, self.vocabs = path, state, model, task, \
            vocabs
        self.data = state["data"]


def load_text_model(path, task):
    """A sequence model from a training checkpoint; ``task`` ("lm" or "seq2seq") is what
    the command needs (None: either), and another kind of checkpoint is refused in one
    sentence."""
    path = find_checkpoint(path)
    state = load(path, map_location="cpu")  # a GPU run's checkpoint loads anywhere
    if not isinstance(state, dict) or state.get("kind") != "zerograd-train":
        raise CheckpointError(f"{path} is not a zerograd training checkpoint")
    data = state.get("data") or {}
    name = (state.get("model") or {}).get("name")
    if data.get("kind") != "text":
        raise UsageError(f"{path} holds a '{name}' model trained on '{data.get('name')}', not a "
                         f"{'language' if task == 'lm' else 'sequence-to-sequence'} model; "
                         f"`zerograd {_COMMAND[task]}` needs one trained with --model "
                         + _MODELS_FOR[task])
    if task is None:
        task = data.get("task")
    if data.get("task") == "bert" and task != "bert":
        raise UsageError(f"{path} holds a '{name}' model (BERT pretraining: masked-LM and "
                         f"next-sentence heads), which does not {_COMMAND[task]}; "
                         f"`zerograd {_COMMAND[task]}` needs a model trained with --model "
                         + _MODELS_FOR[task])
    if data.get("task") != task:
        other = _COMMAND[data.get("task")] if data.get("task") in _COMMAND else "?"
        raise UsageError(f"{path} holds a '{name}' model; use `zerograd {other}` with it")
    cfg = state["config"]
    try:
        if task in ("lm", "bert"):
            vocabs = (Vocab.from_dict(data["vocab"]),)
        else:
            vocabs = (Vocab.from_dict(data["src_vocab"]), Vocab.from_dict(data["tgt_vocab"]))
        model = build_text_model(name, cfg, tuple(len(v) for v in vocabs))
        model.load_state_dict(state["model_state"])
    except (KeyError, TypeError, RuntimeError, ValueError) as err:
        raise CheckpointError(f"{path}: the weights do not fit model '{name}': "
                              f"{str(err).splitlines()[0]}") from None
    model.eval()
    return TextModel(path, state, model, task, vocabs)


def generate(loaded, prefix, num_chars=100, temperature=0.8, top_k=None, seed=None):
    """``{"prefix", "generated", "text"}``: ``num_chars`` characters after ``prefix``."""
    if num_chars < 0:
        raise UsageError(f"--num-chars must be at least 0, got {num_chars}")
    if not temperature >= 0 or temperature == float("inf"):
        raise UsageError(f"--temperature must be a finite number >= 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise UsageError(f"--top-k must be at least 1, got {top_k}")
    vocab = loaded.vocabs[0]
    if prefix is None:
        prefix = "".join(t for t in vocab.idx_to_token[1:3])
    prefix = clean_prefix(prefix, loaded.data.get("clean"))
    if not prefix:
        raise UsageError("--prefix is empty (after the corpus's cleaning); give some text")
    table = getattr(loaded.model, "max_len", None)
    if table is not None and len(prefix) > table:
        raise UsageError(f"the prefix is {len(prefix)} characters long but this "
                         f"{loaded.state['model']['name']} model's positional table holds "
                         f"{table} positions (its --num-steps); give at most {table} characters")
    missing = sorted({c for c in prefix if c not in vocab.token_to_idx})
    if missing:
        shown = " ".join(repr(c) for c in missing[:10])
        raise UsageError(f"the prefix holds characters the model never saw in training: "
                         f"{shown}; use characters of its corpus ({loaded.data.get('name')})")
    generator = Generator()
    if seed is not None:
        generator.manual_seed(seed)
    else:
        generator.seed()
    ids = generate_tokens(loaded.model, vocab[list(prefix)], num_chars, temperature, top_k,
                          generator)
    generated = "".join(vocab.to_tokens(ids))
    return {"prefix": prefix, "generated": generated, "text": prefix + generated}


def translate(loaded, text):
    """``{"input", "output", "tokens"}``: greedy decoding of one source text."""
    src_vocab, tgt_vocab = loaded.vocabs
    chars = loaded.data.get("tokenize") == "char"
    tokens = [c for c in text if not c.isspace()] if chars else \
        [t for t in preprocess_nmt(text).split(" ") if t]
    if not tokens:
        raise UsageError("nothing to translate: the text is empty")
    if chars:
        missing = sorted({t for t in tokens if t not in src_vocab.token_to_idx})
        if missing:
            raise UsageError(f"the text holds symbols the model never saw: "
                             f"{' '.join(repr(c) for c in missing[:10])}")
    num_steps = int(loaded.data["num_steps"])
    if loaded.state["model"]["name"] == "transformer-seq2seq" and len(tokens) + 1 > num_steps:
        raise UsageError(f"the text has {len(tokens)} tokens but the model reads at most "
                         f"{num_steps - 1} (its positional table holds --num-steps {num_steps} "
                         "positions, one for <eos>); give a shorter text")
    X, X_len = build_array_nmt([tokens], src_vocab, num_steps)
    bos, eos = tgt_vocab["<bos>"], tgt_vocab["<eos>"]
    if has_decode_step(loaded.model):
        pred, lengths, _ = greedy_decode_steps(loaded.model, X, X_len, bos, eos, num_steps)
    else:
        pred, lengths = greedy_decode(loaded.model, X, X_len, bos, eos, num_steps)
    out = tgt_vocab.to_tokens(pred[0, :lengths[0]].tolist())
    return {"input": text, "output": ("" if chars else " ").join(out), "tokens": out}


def is_text_checkpoint(path):
    """True when ``path`` (file or run folder) holds a sequence model's checkpoint."""
    state = load(find_checkpoint(path), map_location="cpu")
    return isinstance(state, dict) and (state.get("data") or {}).get("kind") == "text"


def describe_text(loaded):
    """What ``zerograd info`` shows for a sequence model."""
    state = loaded.state
    return {"checkpoint": loaded.path, "model": state["model"]["name"],
            "class": type(loaded.model).__name__,
            "parameters": sum(p.numel() for p in loaded.model.parameters()),
            "epoch": state.get("epoch"), "data": loaded.data.get("name"), "task": loaded.task,
            "vocab_sizes": [len(v) for v in loaded.vocabs], "metrics": state.get("metrics"),
            "best": state.get("best"), "config": state.get("config"),
            "architecture": repr(loaded.model)}
