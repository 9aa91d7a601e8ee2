"""``zerograd.models``: the networks of d2l's chapters, sized for 28x28 grey images.

Every model is a plain ``nn.Module`` returning logits (or real values for regression).
``get_model(name, in_shape, num_classes)`` builds one by its CLI name; ``in_shape`` is
one sample's shape, e.g. ``(64,)`` for tabular data or ``(1, 28, 28)`` for images.
"""
from zerograd.models import (alexnet, attention_seq2seq, bert, googlenet, lenet, linear, mlp, nin,
                             resnet, rnn_lm, seq2seq, transformer_lm, transformer_seq2seq, vgg)
from zerograd.models.alexnet import AlexNetSmall
from zerograd.models.googlenet import GoogLeNetSmall, Inception
from zerograd.models.lenet import LeNet, LeNetBN
from zerograd.models.linear import LinearRegression, LogisticRegression, SoftmaxRegression
from zerograd.models.mlp import MLP
from zerograd.models.nin import NiN
from zerograd.models.resnet import ResNet18, Residual
from zerograd.models.vgg import VGGSmall

__all__ = ["get_model", "MODELS", "TEXT_KINDS", "model_names", "takes_images",
           "is_text_model", "LinearRegression",
           "SoftmaxRegression", "LogisticRegression", "MLP", "LeNet", "LeNetBN", "AlexNetSmall",
           "VGGSmall", "NiN", "GoogLeNetSmall", "Inception", "ResNet18", "Residual"]

# name -> (module with build(), what the model's outputs mean: "regression" (real values),
# "binary" (one logit), "classes" (one logit per class), "any" (follows the data)).
MODELS = {
    "linear": (linear, "regression"),
    "logistic": (linear, "binary"),
    "softmax": (linear, "classes"),
    "mlp": (mlp, "any"),
    "lenet": (lenet, "classes"),
    "lenet-bn": (lenet, "classes"),
    "alexnet-small": (alexnet, "classes"),
    "vgg-small": (vgg, "classes"),
    "nin": (nin, "classes"),
    "googlenet-small": (googlenet, "classes"),
    "resnet18": (resnet, "classes"),
    # sequence models: built from a vocabulary by zerograd.train.text, not by get_model
    "rnn-lm": (rnn_lm, "lm"),
    "gru-lm": (rnn_lm, "lm"),
    "lstm-lm": (rnn_lm, "lm"),
    "seq2seq-gru": (seq2seq, "seq2seq"),
    "seq2seq-attn": (attention_seq2seq, "seq2seq"),
    "transformer-seq2seq": (transformer_seq2seq, "seq2seq"),
    "transformer-lm": (transformer_lm, "lm"),
    "bert-tiny": (bert, "bert"),   # pretrained (masked LM + next sentence) on text:...
}

TEXT_KINDS = ("lm", "seq2seq", "bert")


def model_names():
    return tuple(MODELS)


def takes_images(name):
    """True for the CNNs, which need (channels, height, width) samples, not flat features."""
    return MODELS[name][0] not in (linear, mlp) and MODELS[name][1] not in TEXT_KINDS


def is_text_model(name):
    """True for the language models and the encoder-decoder (trained on text data)."""
    return name in MODELS and MODELS[name][1] in TEXT_KINDS


def get_model(name, in_shape, num_classes=None):
    """Build model ``name`` for samples of shape ``in_shape``.

    ``num_classes`` is the number of classes of a classification task, or None for a
    regression (one real output). Raises ValueError when the model cannot do the task
    (e.g. ``linear`` on classes, ``logistic`` on more than two classes) or the input
    (a CNN on tabular data).
    """
    if name not in MODELS:
        raise ValueError(f"unknown model '{name}'; choose one of: {', '.join(MODELS)}")
    module, kind = MODELS[name]
    if kind in TEXT_KINDS:
        example = "seq2seq:reverse" if kind == "seq2seq" else "text:tang300"
        raise ValueError(f"model '{name}' is a sequence model; train it on text data "
                         f"(e.g. --data {example})")
    if kind == "regression" and num_classes is not None:
        raise ValueError(f"model '{name}' is linear regression (real-valued output) but the "
                         f"data has {num_classes} classes; use softmax or logistic")
    if kind == "binary" and num_classes != 2:
        what = "is a regression task" if num_classes is None else f"has {num_classes} classes"
        raise ValueError(f"model '{name}' is binary logistic regression but the data {what}; "
                         f"use {'softmax' if num_classes else 'linear'}")
    if kind == "classes" and num_classes is None:
        raise ValueError(f"model '{name}' is a classifier but the data is a regression task; "
                         "use linear or mlp")
    num_outputs = 1 if num_classes is None else num_classes
    return module.build(name, tuple(in_shape), num_outputs)
