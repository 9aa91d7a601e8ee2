"""The ``zerograd`` command: train, eval, predict, resume, info, generate, translate.

``zerograd train`` with no arguments trains an MLP on scikit-learn's bundled digits
(offline, a few seconds) and prints the test accuracy. Progress and per-epoch lines go
to stderr, results to stdout (``--json`` makes stdout one JSON object). Every expected
failure -- unknown model or dataset, missing files, a bad CSV, an unreadable or
mismatched checkpoint -- is one line on stderr and a non-zero exit, never a traceback.
"""
import argparse
import json
import os
import sys

__all__ = ["main", "build_parser"]

EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line (no usage block)."""

    def error(self, message):
        raise _CommandLineError(f"{message} (see `{self.prog} --help`)")


class _CommandLineError(Exception):
    pass


def _common(p):
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar or epoch lines")


def _progress(p):
    p.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="always show the progress bar (default: only on a terminal)")
    p.add_argument("--no-progress", dest="progress", action="store_false")


def build_parser():
    from zerograd.train.config import DATASET_NAMES, MODEL_NAMES, OPTIMIZERS, SCHEDULERS
    from zerograd import __version__
    parser = _Parser(prog="zerograd", description="Train and use models with zerograd.")
    parser.add_argument("--version", action="version", version=f"zerograd {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    t = sub.add_parser("train", help="train a model (default: an MLP on digits)",
                       description="Train a model and write a run folder. Options may also "
                                   "come from a TOML file (--config); flags override it.")
    t.add_argument("--config", metavar="FILE", help="TOML file with any of these options")
    t.add_argument("--model", help=f"one of: {', '.join(MODEL_NAMES)} (default mlp)")
    t.add_argument("--data", help=f"one of: {', '.join(DATASET_NAMES)} (default digits)")
    t.add_argument("--epochs", type=int, help="passes over the training set")
    t.add_argument("--batch-size", type=int, dest="batch_size")
    t.add_argument("--lr", type=float, help="learning rate (default depends on the optimizer)")
    t.add_argument("--optimizer", help=f"one of: {', '.join(OPTIMIZERS)} (default adam)")
    t.add_argument("--momentum", type=float, help="for sgd/momentum/nesterov/rmsprop")
    t.add_argument("--weight-decay", type=float, dest="weight_decay")
    t.add_argument("--scheduler", help=f"one of: {', '.join(SCHEDULERS)} (default none)")
    t.add_argument("--seed", type=int, help="random seed (default 0): same seed, same numbers")
    t.add_argument("--limit", type=int, help="use at most N samples of each split")
    t.add_argument("--data-dir", dest="data_dir", help="folder of the MNIST/Fashion-MNIST files")
    t.add_argument("--out", help="run folder (default runs/MODEL-DATA[-N])")
    t.add_argument("--keep-checkpoints", type=int, dest="keep_checkpoints",
                   help="per-epoch checkpoints to keep (default 2)")
    t.add_argument("--init-from", dest="init_from", metavar="CKPT",
                   help="start from the weights of this checkpoint (file or run folder); "
                        "optimizer, schedule and epochs start afresh")
    t.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    t.add_argument("--num-steps", type=int, dest="num_steps",
                   help="sequence models: tokens per training sequence (LM 35, seq2seq 10, "
                        "BERT 64); also the Transformers' positional table size")
    t.add_argument("--embed-size", type=int, dest="embed_size", help="sequence models")
    t.add_argument("--hidden-size", type=int, dest="hidden_size", help="sequence models")
    t.add_argument("--num-layers", type=int, dest="num_layers", help="sequence models")
    t.add_argument("--num-heads", type=int, dest="num_heads",
                   help="Transformer models: attention heads (divides --embed-size)")
    t.add_argument("--positions", help="transformer-lm: learned (default) or sinusoidal")
    t.add_argument("--clip-grad", type=float, dest="clip_grad",
                   help="sequence models: clip the gradient norm to this (default 1; 0: off)")
    t.add_argument("--show-graph", action="store_true", dest="show_graph",
                   help="save the autograd graph of one batch (graph.dot, graph.svg)")
    t.add_argument("--nproc", type=int, help="train on N processes (data parallel, on MPI; "
                                             "--batch-size is split over them)")
    t.add_argument("--device", help="cpu, cuda, cuda:N or auto (default auto: the GPU when "
                                    "zerograd.cuda.is_available(), else the CPU)")
    _progress(t)
    _common(t)

    r = sub.add_parser("resume", help="continue a run from its newest good checkpoint")
    r.add_argument("run_dir", metavar="RUN_DIR")
    r.add_argument("--epochs", type=int, help="train up to this many epochs in total")
    r.add_argument("--device", help="cpu, cuda, cuda:N or auto (default: as the run was "
                                    "started; a GPU checkpoint resumes on a CPU too)")
    _progress(r)
    _common(r)

    e = sub.add_parser("eval", help="score a checkpoint on a dataset's test split")
    e.add_argument("checkpoint", metavar="CKPT", help="checkpoint file or run folder")
    e.add_argument("--data", help="dataset (default: the one it was trained on)")
    e.add_argument("--limit", type=int, help="use at most N test samples")
    e.add_argument("--data-dir", dest="data_dir")
    e.add_argument("--batch-size", type=int, default=256, dest="batch_size")
    e.add_argument("--force", action="store_true",
                   help="evaluate on another dataset than the checkpoint's (if shapes fit)")
    _common(e)

    p = sub.add_parser("predict", help="classify PNG/NPY images or CSV rows")
    p.add_argument("checkpoint", metavar="CKPT", help="checkpoint file or run folder")
    p.add_argument("files", metavar="FILE", nargs="+")
    p.add_argument("--top", type=int, default=3, help="probabilities to show per input")
    _common(p)

    g = sub.add_parser("generate", help="continue a text with a trained language model")
    g.add_argument("checkpoint", metavar="CKPT", help="checkpoint file or run folder")
    g.add_argument("--prefix", default=None, help="the text to continue (default: the "
                                                  "corpus's first characters)")
    g.add_argument("--num-chars", type=int, default=100, dest="num_chars")
    g.add_argument("--temperature", type=float, default=0.8,
                   help="sampling temperature; 0 picks the likeliest character (greedy)")
    g.add_argument("--top-k", type=int, dest="top_k", help="sample among the K likeliest")
    g.add_argument("--seed", type=int, help="seed of the sampling (default: fresh each run)")
    _common(g)

    tr = sub.add_parser("translate", help="decode text with a trained seq2seq model")
    tr.add_argument("checkpoint", metavar="CKPT", help="checkpoint file or run folder")
    tr.add_argument("texts", metavar="TEXT", nargs="+")
    _common(tr)

    la = sub.add_parser("launch", help="run a script on N processes (torchrun-like, on MPI)",
                        description="Start N processes of SCRIPT with mpiexec; each sees "
                                    "torchrun's RANK, WORLD_SIZE and LOCAL_RANK.")
    la.add_argument("--nproc", "--nproc-per-node", type=int, default=1, dest="nproc",
                    help="processes to start (default 1)")
    la.add_argument("--hostfile", metavar="FILE", help="mpiexec hostfile: the machines to use")
    la.add_argument("-m", "--module", action="store_true", help="SCRIPT is a module name")
    la.add_argument("script", metavar="SCRIPT")
    la.add_argument("script_args", metavar="ARGS", nargs=argparse.REMAINDER)

    i = sub.add_parser("info", help="architecture, parameter count and metrics of a checkpoint")
    i.add_argument("checkpoint", metavar="CKPT", help="checkpoint file or run folder")
    _common(i)
    return parser


# -- commands ------------------------------------------------------------------------------------
def _emit(args, data, lines):
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        for line in lines:
            print(line)


def _cmd_train(args):
    from zerograd.train.config import TrainConfig, load_toml, resolve
    from zerograd.train.trainer import fit
    fields = TrainConfig.__dataclass_fields__
    flags = {k: v for k, v in vars(args).items() if k in fields and v is not None}
    if args.config == "":
        raise _usage("--config must not be empty")
    cfg = resolve(load_toml(args.config) if args.config is not None else {}, flags)
    from zerograd.train import distributed as multi
    multi.check_nproc(cfg)
    if multi.needs_launch(cfg.nproc):  # this process starts the ranks and waits for them
        return multi.relaunch(cfg.nproc, args.argv)
    with multi.job(cfg.nproc):
        summary = fit(cfg, overwrite=args.overwrite, quiet=args.quiet, progress=args.progress,
                      show_graph=args.show_graph)
    if multi.is_writer():
        _emit(args, summary, _result_lines(summary))
    return 0


def _cmd_resume(args):
    from zerograd.train import distributed as multi
    from zerograd.train.trainer import resume
    nproc = multi.run_nproc(args.run_dir)  # a multi-process run resumes on as many ranks
    if multi.needs_launch(nproc):
        return multi.relaunch(nproc, args.argv)
    with multi.job(nproc):
        summary = resume(args.run_dir, epochs=args.epochs, quiet=args.quiet,
                         progress=args.progress, device=args.device)
    if multi.is_writer():
        _emit(args, summary, _result_lines(summary))
    return 0


def _cmd_launch(args):
    from zerograd.distributed.launch import LaunchError, launch
    try:
        return launch(args.nproc, args.script, args.script_args, module=args.module,
                      hostfile=args.hostfile)
    except LaunchError as err:
        return _fail(str(err), EXIT_USAGE)


def _result_lines(s):
    if s.get("test_mlm_acc") is not None:  # BERT pretraining
        epochs = f"{s['epochs']} epoch{'' if s['epochs'] == 1 else 's'}"
        return [f"validation masked-LM accuracy: {s['test_mlm_acc']:.4f}  next-sentence "
                f"accuracy: {s['test_nsp_acc']:.4f}  (loss {s['test_loss']:.4f}, {epochs}, "
                f"{s['seconds']:.1f}s)", f"run folder: {s['run_dir']}"]
    if s.get("test_ppl") is not None:  # a sequence model
        head = f"validation perplexity: {s['test_ppl']:.3f}"
        if s.get("test_acc") is not None:
            head += f"  exact match: {s['test_acc']:.4f}  BLEU: {s['test_bleu']:.4f}"
        epochs = f"{s['epochs']} epoch{'' if s['epochs'] == 1 else 's'}"
        lines = [head + f"  (loss {s['test_loss']:.4f}, {epochs}, {s['seconds']:.1f}s)"]
        if s.get("sample"):
            lines.append("sample: " + s["sample"].replace("\n", " / "))
        return lines + [f"run folder: {s['run_dir']}"]
    if s.get("test_acc") is not None:
        head = f"test accuracy: {s['test_acc']:.4f}"
    else:
        head = f"test R^2: {s['test_r2']:.4f}  RMSE: {s['test_rmse']:.4g}"
    epochs = f"{s['epochs']} epoch{'' if s['epochs'] == 1 else 's'}"
    return [head + f"  (loss {s['test_loss']:.4f}, {epochs}, {s['seconds']:.1f}s)",
            f"run folder: {s['run_dir']}"]


def _cmd_eval(args):
    from zerograd.train.inference import evaluate_checkpoint, load_trained
    if args.limit is not None and args.limit < 1:
        raise _usage(f"--limit must be at least 1, got {args.limit}")
    if args.batch_size < 1:
        raise _usage(f"--batch-size must be at least 1, got {args.batch_size}")
    trained = load_trained(args.checkpoint)
    report = evaluate_checkpoint(trained, args.data, args.limit, args.data_dir, args.batch_size,
                                 force=args.force)
    lines = [f"checkpoint: {report['checkpoint']}", f"data: {report['data']} "
             f"({report['samples']} test samples)", f"loss: {report['loss']:.4f}"]
    if "accuracy" in report:
        names = report["class_names"]
        width = max(len(n) for n in names)
        lines.append(f"accuracy: {report['accuracy']:.4f}")
        lines.append("per-class accuracy:")
        for n, v in report["per_class_accuracy"].items():
            lines.append(f"  {n:>{width}}  " + ("n/a" if v is None else f"{v:.4f}"))
        lines.append("confusion matrix (rows: true, columns: predicted):")
        cell = max(len(str(c)) for row in report["confusion_matrix"] for c in row)
        for n, row in zip(names, report["confusion_matrix"]):
            lines.append(f"  {n:>{width}}  " + " ".join(f"{c:>{cell}}" for c in row))
    else:
        lines.append(f"R^2: {report['r2']:.4f}  RMSE: {report['rmse']:.4g}")
    _emit(args, report, lines)
    return 0


def _cmd_predict(args):
    from zerograd.train.inference import load_trained, predict
    if args.top < 1:
        raise _usage(f"--top must be at least 1, got {args.top}")
    trained = load_trained(args.checkpoint)
    results = predict(trained, args.files, top=args.top)
    lines = []
    for r in results:
        if "prediction" in r:
            line = f"{r['input']}: {r['prediction']:.6g}"
        else:
            top = ", ".join(f"{name} {p:.3f}" for name, p in r["top"])
            line = f"{r['input']}: {r['class']} ({r['probability']:.3f})  [{top}]"
        lines.append(line + (f"  ({r['note']})" if r.get("note") else ""))
    _emit(args, results, lines)
    return 0


def _cmd_generate(args):
    from zerograd.train.text_inference import generate, load_text_model
    loaded = load_text_model(args.checkpoint, "lm")
    result = generate(loaded, args.prefix, args.num_chars, args.temperature, args.top_k,
                      args.seed)
    _emit(args, result, [result["text"]])
    return 0


def _cmd_translate(args):
    from zerograd.train.text_inference import load_text_model, translate
    loaded = load_text_model(args.checkpoint, "seq2seq")
    results = [translate(loaded, text) for text in args.texts]
    _emit(args, results, [f"{r['input']} => {r['output']}" for r in results])
    return 0


_TASK_NAMES = {"lm": "language model", "seq2seq": "seq2seq", "bert": "BERT pretraining"}


def _cmd_info(args):
    from zerograd.train.inference import describe, load_trained
    from zerograd.train.text_inference import describe_text, is_text_checkpoint, load_text_model
    if is_text_checkpoint(args.checkpoint):
        d = describe_text(load_text_model(args.checkpoint, None))
        m = d["metrics"] or {}
        lines = [f"checkpoint: {d['checkpoint']}",
                 f"model: {d['model']} ({d['class']}), {d['parameters']:,} parameters",
                 f"data: {d['data']} ({_TASK_NAMES.get(d['task'], d['task'])}), "
                 f"vocabulary {' -> '.join(str(n) for n in d['vocab_sizes'])} tokens",
                 f"epoch: {d['epoch']}"]
        if m and d["task"] == "bert":
            lines.append(f"metrics: validation loss {m['test_loss']:.4f}, masked-LM accuracy "
                         f"{m['test_mlm_acc']:.4f}, next-sentence accuracy "
                         f"{m['test_nsp_acc']:.4f}")
        elif m:
            lines.append(f"metrics: validation loss {m['test_loss']:.4f}, perplexity "
                         f"{m['test_ppl']:.3f}" + (f", exact match {m['test_acc']:.4f}"
                                                   if m.get("test_acc") is not None else ""))
        _emit(args, d, lines + ["architecture:", d["architecture"]])
        return 0
    d = describe(load_trained(args.checkpoint))
    m = d["metrics"] or {}
    lines = [f"checkpoint: {d['checkpoint']}",
             f"model: {d['model']} ({d['class']}), {d['parameters']:,} parameters",
             f"data: {d['data']} ({d['task']}), input shape {tuple(d['input_shape'])}"
             + (f", {len(d['classes'])} classes" if d["classes"] else ""),
             f"epoch: {d['epoch']}"]
    if m:
        acc = "" if m.get("test_acc") is None else f", test acc {m['test_acc']:.4f}"
        lines.append(f"metrics: test loss {m['test_loss']:.4f}{acc}")
    lines += ["architecture:", d["architecture"]]
    _emit(args, d, lines)
    return 0


_COMMANDS = {"train": _cmd_train, "resume": _cmd_resume, "eval": _cmd_eval,
             "predict": _cmd_predict, "info": _cmd_info, "generate": _cmd_generate,
             "translate": _cmd_translate, "launch": _cmd_launch}


def _usage(text):
    from zerograd.train.config import UsageError
    return UsageError(text)


def main(argv=None):
    """Entry point of the ``zerograd`` console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        argv = ["train"]  # the README's main job: `zerograd` alone trains the default model
    from zerograd.io import CheckpointError
    from zerograd.train.config import Interrupted, UsageError
    try:
        args = build_parser().parse_args(argv)
        args.argv = argv  # `train --nproc N` relaunches this very command on N ranks
        if args.command is None:
            raise _CommandLineError("choose a command: train, eval, predict, resume, info, "
                                    "generate, translate, launch")
        return _COMMANDS[args.command](args)
    except _CommandLineError as err:
        return _fail(str(err), EXIT_USAGE)
    except UsageError as err:
        return _fail(str(err), EXIT_USAGE)
    except CheckpointError as err:
        return _fail(str(err), EXIT_ERROR)
    except Interrupted as stop:
        if stop.saved_epoch == 0:
            return _fail(f"interrupted before the first epoch ended; "
                         f"{stop.outcome or 'nothing was saved'}", EXIT_INTERRUPTED)
        return _fail(f"interrupted; epoch {stop.saved_epoch} is saved, continue with "
                     f"`zerograd resume {stop.run_dir}`", EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_INTERRUPTED)
    except BrokenPipeError:
        return EXIT_ERROR
    except SystemExit as done:  # --help, --version: argparse printed them
        return done.code if isinstance(done.code, int) else EXIT_ERROR
    except (MemoryError, OSError) as err:
        return _fail(f"{type(err).__name__}: {err}", EXIT_ERROR)
    except Exception as err:  # a bug: one line, and the traceback on request
        if os.environ.get("ZEROGRAD_DEBUG"):
            raise
        first = str(err).splitlines()[0] if str(err) else ""
        return _fail(f"internal error: {type(err).__name__}: {first} (set ZEROGRAD_DEBUG=1 "
                     "to see the traceback)", EXIT_ERROR)


def _fail(message, code):
    print(f"zerograd: error: {message}", file=sys.stderr)
    return code
