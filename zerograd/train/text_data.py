"""What a sequence-model run reads: options, corpora and pairs, and sampling from an LM.

``resolve_text`` fills a run's defaults (``zerograd.train.config.resolve`` hands text
runs to it); ``load_lm_text`` and ``seq2seq_pairs`` turn ``--data`` into text or token
pairs with one-line errors; ``generate_tokens`` continues a prefix (greedy, temperature,
top-k) for the per-epoch samples and ``zerograd generate``.
"""
import os

import numpy as np

from zerograd.autograd.grad_mode import no_grad
from zerograd.datasets.seq2seq import (SEQ2SEQ_TASKS, preprocess_nmt, read_data_nmt,
                                       synthetic_seq2seq, tokenize_nmt)
from zerograd.datasets.text_corpora import CORPORA, clean_d2l, load_text
from zerograd.models import MODELS
from zerograd.models.rnn_lm import DEFAULT_LM_SIZES
from zerograd.models.bert import DEFAULT_BERT_SIZES
from zerograd.models.positions import POSITIONS
from zerograd.models.seq2seq import DEFAULT_SEQ2SEQ_SIZES
from zerograd.models.transformer_lm import DEFAULT_TRANSFORMER_LM_SIZES
from zerograd.models.transformer_seq2seq import DEFAULT_TRANSFORMER_SEQ2SEQ_SIZES
from zerograd.ops import from_numpy
from zerograd.random import Generator
from zerograd.train.config import (OPTIMIZERS, SCHEDULERS, TEXT_MODELS, TRANSFORMER_MODELS,
                                   UsageError)
from zerograd.train.datainfo import SPLIT_SEED

__all__ = ["task_of", "resolve_text", "load_lm_text", "clean_prefix", "seq2seq_pairs",
           "init_from_data_state", "build_text_model", "generate_tokens", "SEQ2SEQ_EXAMPLES"]

SEQ2SEQ_EXAMPLES = 2000        # synthetic pairs when --limit does not say


# -- options -----------------------------------------------------------------------------------
def task_of(data):
    return "lm" if data.startswith("text:") else "seq2seq"


def resolve_text(cfg, given):
    """Fill the defaults of a sequence-model run and check model and data fit."""
    if not cfg.data.startswith(("text:", "seq2seq:")):
        raise UsageError(f"model '{cfg.model}' is a sequence model; train it on text data "
                         "(text:CORPUS, text:PATH, seq2seq:TASK or seq2seq:PATH), not "
                         f"'{cfg.data}'")
    if cfg.model not in TEXT_MODELS:
        raise UsageError(f"--data {cfg.data} is text; train a sequence model on it "
                         f"({', '.join(TEXT_MODELS)}), not '{cfg.model}'")
    if not cfg.data.split(":", 1)[1]:
        raise UsageError(f"--data {cfg.data}: name a corpus, task or file after the colon")
    kind = MODELS[cfg.model][1]                 # "lm", "seq2seq" or "bert"
    want = "seq2seq" if kind == "seq2seq" else "lm"  # BERT pretrains on text:... too
    if want != task_of(cfg.data):
        example = "text:tang300" if want == "lm" else "seq2seq:reverse"
        needs = (f"{'BERT pretrains' if kind == 'bert' else 'language models train'} on text:..."
                 if want == "lm" else "seq2seq models train on seq2seq:...")
        raise UsageError(f"model '{cfg.model}' does not fit --data {cfg.data}: {needs} data "
                         f"(e.g. --data {example})")
    if cfg.scheduler not in SCHEDULERS:
        raise UsageError(f"unknown scheduler '{cfg.scheduler}'; choose one of: "
                         f"{', '.join(SCHEDULERS)}")
    if cfg.optimizer not in OPTIMIZERS or cfg.optimizer == "lbfgs":
        raise UsageError(f"--optimizer {cfg.optimizer} does not train sequence models here; "
                         "choose one of: " + ", ".join(o for o in OPTIMIZERS if o != "lbfgs"))
    if cfg.data_dir is not None:
        raise UsageError("--data-dir applies to fashion-mnist and mnist; drop it")
    _fill_defaults(cfg, given)
    if cfg.clip_grad is None:
        cfg.clip_grad = 1.0  # d2l's grad_clipping(net, 1)
    if cfg.lr is None:  # d2l: SGD at lr 1 with clipping; Adam at 0.005 (seq2seq)
        cfg.lr = 1.0 if cfg.optimizer == "sgd" else _ADAM_LR.get(cfg.model, 0.005)
    if cfg.momentum is None:
        cfg.momentum = 0.9 if cfg.optimizer in ("momentum", "nesterov") else 0.0
    if given.get("momentum") is not None and cfg.optimizer not in ("sgd", "momentum",
                                                                    "nesterov", "rmsprop"):
        raise UsageError(f"--momentum does not apply to {cfg.optimizer}; drop it")


# per model: (epochs, batch size, num_steps, sizes) when not given
_DEFAULTS = {"lm": (10, 32, 35, DEFAULT_LM_SIZES),
             "seq2seq": (30, 64, 10, DEFAULT_SEQ2SEQ_SIZES),
             "transformer-lm": (10, 32, 35, DEFAULT_TRANSFORMER_LM_SIZES),
             "transformer-seq2seq": (30, 64, 10, DEFAULT_TRANSFORMER_SEQ2SEQ_SIZES),
             "bert-tiny": (5, 64, 64, DEFAULT_BERT_SIZES)}
# Transformers without warm-up want a smaller Adam step than the recurrent models
_ADAM_LR = {"transformer-lm": 0.001, "bert-tiny": 0.001}


def _fill_defaults(cfg, given):
    kind = MODELS[cfg.model][1]
    epochs, batch, steps, sizes = _DEFAULTS.get(cfg.model, _DEFAULTS.get(kind))
    cfg.epochs = cfg.epochs if cfg.epochs is not None else epochs
    cfg.batch_size = cfg.batch_size if cfg.batch_size is not None else batch
    cfg.num_steps = cfg.num_steps if cfg.num_steps is not None else steps
    for key, value in sizes.items():
        if getattr(cfg, key) is None:
            setattr(cfg, key, value)
    if cfg.model not in TRANSFORMER_MODELS and given.get("num_heads") is not None:
        raise UsageError(f"--num-heads applies to the Transformer models "
                         f"({', '.join(TRANSFORMER_MODELS)}), not {cfg.model}; drop it")
    if cfg.model != "transformer-lm" and given.get("positions") is not None:
        raise UsageError(f"--positions applies to transformer-lm, not {cfg.model}; drop it")
    if cfg.model == "transformer-lm":
        cfg.positions = cfg.positions or "learned"
        if cfg.positions not in POSITIONS:
            raise UsageError(f"unknown --positions '{cfg.positions}'; choose one of: "
                             f"{', '.join(POSITIONS)}")
    if cfg.model in TRANSFORMER_MODELS and cfg.num_heads >= 1 and cfg.embed_size % cfg.num_heads:
        raise UsageError(f"--embed-size {cfg.embed_size} must be divisible by --num-heads "
                         f"{cfg.num_heads} (each head gets embed-size / num-heads features)")
    if cfg.model == "bert-tiny" and cfg.num_steps < 5:
        raise UsageError(f"--num-steps {cfg.num_steps} is too short for BERT: a pair needs "
                         "<cls> A <sep> B <sep>, at least 5 tokens")


# -- data ------------------------------------------------------------------------------------
def _source(spec):
    """``text:tang300`` -> ``tang300``; ``text:some/file`` -> ``text:some/file``."""
    name = spec.split(":", 1)[1]
    if name in CORPORA:
        return name
    if not os.path.exists(name) and os.sep not in name and "." not in name:
        raise UsageError(f"unknown corpus '{name}'; choose one of: {', '.join(CORPORA)}, or "
                         "give a file: text:PATH")
    return "text:" + name


def load_lm_text(spec, clean="auto"):
    """``(text, clean)``: a corpus's text and the cleaning used (``"d2l"`` or None)."""
    source = _source(spec)
    try:
        if clean == "auto":
            raw = load_text(source, clean=None)
            ascii_ = sum(c.isascii() for c in raw if not c.isspace())
            visible = sum(not c.isspace() for c in raw)
            clean = "d2l" if (CORPORA[source][3] == "d2l" if source in CORPORA
                              else ascii_ >= 0.95 * max(visible, 1)) else None
        return load_text(source, clean=clean), clean
    except UsageError:
        raise
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise UsageError(f"--data {spec}: {str(err).splitlines()[0]}") from None


def clean_prefix(text, clean):
    return clean_d2l(text) if clean == "d2l" else text


def seq2seq_pairs(spec, limit):
    name = spec.split(":", 1)[1]
    if name in SEQ2SEQ_TASKS:
        count = limit or SEQ2SEQ_EXAMPLES
        source, target = synthetic_seq2seq(name, count, generator=Generator().manual_seed(
            SPLIT_SEED))
        return source, target, "char", 0
    if not os.path.exists(name) and os.sep not in name and "." not in name:
        raise UsageError(f"unknown seq2seq task '{name}'; choose one of: "
                         f"{', '.join(SEQ2SEQ_TASKS)}, or give a file of tab-separated pairs: "
                         "seq2seq:PATH")
    try:
        source, target = tokenize_nmt(preprocess_nmt(read_data_nmt(name)), limit)
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise UsageError(f"--data {spec}: {str(err).splitlines()[0]}") from None
    if len(source) < 2:
        raise UsageError(f"--data {spec}: the file holds {len(source)} 'source<TAB>target' "
                         "lines; give at least 2 (one a line, tab-separated)")
    return source, target, "words", 2


def init_from_data_state(cfg):
    """The data description of ``--init-from``'s checkpoint (its vocabularies)."""
    from zerograd.io import load
    from zerograd.train.run import find_checkpoint
    path = find_checkpoint(cfg.init_from)
    state = load(path, map_location="cpu")  # a GPU run's checkpoint loads anywhere
    data = state.get("data") if isinstance(state, dict) else None
    if not isinstance(data, dict) or data.get("kind") != "text":
        raise UsageError(f"--init-from {path}: not a checkpoint of a sequence model")
    name = state.get("model", {}).get("name")
    if name != cfg.model:
        raise UsageError(f"--init-from {path} holds a '{name}' model, but this run trains "
                         f"'{cfg.model}'; pass --model {name} or another checkpoint")
    _check_same_shape(cfg, state.get("config") or {}, path)
    return data


# what fixes the shapes of the weights (num_steps: the Transformers' positional tables)
_SHAPE_OPTIONS = ("embed_size", "hidden_size", "num_layers", "num_heads", "positions")


def _check_same_shape(cfg, saved, path):
    keys = _SHAPE_OPTIONS + (("num_steps",) if cfg.model in TRANSFORMER_MODELS else ())
    differ = [k for k in keys if k in saved and saved[k] != getattr(cfg, k)]
    if differ:
        flags = " ".join(f"--{k.replace('_', '-')} {saved[k]}" for k in differ)
        asked = ", ".join(f"{k.replace('_', '-')} {getattr(cfg, k)}" for k in differ)
        raise UsageError(f"--init-from {path} was trained with {flags}, but this run asks for "
                         f"{asked}; pass {flags} to load its weights")


# -- the models -------------------------------------------------------------------------------
TRANSFORMER_DROPOUT = 0.1


def build_text_model(name, cfg, vocab_sizes):
    """Model ``name`` for vocabularies of ``vocab_sizes`` (one, or source and target) with
    the sizes of ``cfg`` (a dict: config.json's); the Transformers' positional tables hold
    ``num_steps`` positions."""
    from zerograd.models.attention_seq2seq import build_seq2seq_attn
    from zerograd.models.bert import build_bert
    from zerograd.models.rnn_lm import build_lm
    from zerograd.models.seq2seq import build_seq2seq
    from zerograd.models.transformer_lm import build_transformer_lm
    from zerograd.models.transformer_seq2seq import build_transformer_seq2seq
    sizes = (cfg["embed_size"], cfg["hidden_size"], cfg["num_layers"])
    heads, steps = cfg.get("num_heads"), cfg["num_steps"]
    if name == "transformer-lm":
        return build_transformer_lm(*vocab_sizes, *sizes, heads, max_len=steps,
                                    positions=cfg.get("positions"), dropout=TRANSFORMER_DROPOUT)
    if name == "bert-tiny":
        return build_bert(*vocab_sizes, *sizes, heads, max_len=steps,
                          dropout=TRANSFORMER_DROPOUT)
    if name == "transformer-seq2seq":
        return build_transformer_seq2seq(*vocab_sizes, *sizes, heads, max_len=steps,
                                         dropout=TRANSFORMER_DROPOUT)
    if name == "seq2seq-attn":
        return build_seq2seq_attn(*vocab_sizes, *sizes)
    if name == "seq2seq-gru":
        return build_seq2seq(*vocab_sizes, *sizes)
    return build_lm(name, *vocab_sizes, *sizes)


# -- sampling from a language model -----------------------------------------------------------
def generate_tokens(model, prefix_ids, num_preds, temperature=0.0, top_k=None, generator=None):
    """``num_preds`` token ids after ``prefix_ids``: the prefix is read in one call, then
    one token at a time is drawn from softmax(logits / temperature) (the ``top_k`` most
    likely only, when given) or, at temperature 0, taken greedily as d2l's
    ``predict_ch8``."""
    from zerograd.ops import multinomial, softmax
    model.eval()
    out = []
    device = next(model.parameters()).device  # the model's device (a GPU run's sample)
    never = from_numpy(np.arange(model.vocab_size) == 0).to(device)  # <unk>: no character
    with no_grad():
        logits, state = model(from_numpy(np.asarray([prefix_ids], dtype=np.int64)).to(device),
                              None)
        last = logits[-1:]
        for _ in range(num_preds):
            row = last.reshape(-1).masked_fill(never, float("-inf"))
            if temperature <= 0:
                token = int(row.argmax().item())
            else:
                scaled = row / temperature
                if top_k is not None and top_k < scaled.shape[0]:
                    cut = np.sort(scaled.cpu().numpy())[-top_k]
                    scaled = scaled.masked_fill(scaled < float(cut), float("-inf"))
                token = int(multinomial(softmax(scaled, dim=0), 1, generator=generator).item())
            out.append(token)
            last, state = model(from_numpy(np.asarray([[token]], dtype=np.int64)).to(device),
                                state)
    return out
