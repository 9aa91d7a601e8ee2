"""The textbook examples run in quick mode and reproduce the textbook's numbers; their
notebooks are generated from the current scripts and run cell by cell without error."""
import importlib.util
import json
import math
import os
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("[0-9][0-9]_*.py"))


def _make_notebooks():
    spec = importlib.util.spec_from_file_location("make_notebooks", EXAMPLES / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def quick(tmp_path, monkeypatch):
    """Quick settings through the environment, pictures into tmp_path, no stray argv."""
    monkeypatch.setenv("ZEROGRAD_EXAMPLES_QUICK", "1")
    monkeypatch.setenv("ZEROGRAD_EXAMPLES_OUT", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["example"])
    return tmp_path


def run_script(name):
    """Run examples/<name> as __main__ (as `python examples/<name>` would); its results."""
    namespace = runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    return namespace["results"]


def test_every_listing_is_there():
    assert SCRIPTS == [
        "01_gradient_descent_log.py", "02_two_layer_forward.py",
        "03_linear_and_quadratic_fit.py", "04_cat_brain_least_squares.py",
        "05_gradient_field_contours.py", "06_taylor_and_convexity.py",
        "07_linear_regression_d2l.py", "08_logistic_and_softmax_regression.py",
        "09_mnist_style_training.py", "10_forward_vs_reverse.py",
        "11_rnn_scratch_and_concise.py", "12_gru_lstm_scratch_vs_module.py",
        "13_tang_poems_char_lstm.py", "14_attention_scoring.py",
        "15_transformer_from_parts.py", "16_word2vec_skipgram.py"]


def test_01_gradient_descent_log(quick, capsys):
    r = run_script("01_gradient_descent_log.py")
    assert r["max_slope_error"] < 1e-12  # autograd == p'/p, the chain rule
    for x, auto, correct, textbook in r["slopes"]:
        p = x ** 4 + x ** 3 + 2
        assert auto == pytest.approx((4 * x ** 3 + 3 * x ** 2) / p, abs=1e-12)
        assert textbook == pytest.approx(auto * p / math.log(p), abs=1e-9)
    for name, x in r["minimum"].items():
        assert x == pytest.approx(-0.75, abs=1e-5), name
    np.testing.assert_allclose(r["autograd_path"], r["correct_path"], atol=1e-12)
    assert r["steps"]["textbook"] < r["steps"]["correct"]  # its slope is p/log p too big
    assert abs(r["lr_0.1_textbook_end"]) > 1e3
    assert r["lr_0.1_correct_end"] == pytest.approx(-0.75, abs=1e-5)
    out = capsys.readouterr().out
    assert "autograd: x = -0.750000" in out
    assert (quick / "01_gradient_descent_log.png").stat().st_size > 0


def test_02_two_layer_forward(quick):
    r = run_script("02_two_layer_forward.py")
    assert r["output_shape"] == (8, 10)
    assert r["forward_max_diff"] < 1e-12
    assert max(r["grad_max_diff"].values()) < 1e-12
    np.testing.assert_allclose(r["row_sums"], 1.0, atol=1e-12)
    assert r["loss"] == pytest.approx(math.log(10), rel=0.05)  # near-uniform outputs


def test_03_linear_and_quadratic_fit(quick):
    r = run_script("03_linear_and_quadratic_fit.py")
    assert r["trajectory_gap"] < 1e-10
    assert r["linear_w"] == pytest.approx(1.5, abs=0.02)
    assert r["linear_b"] == pytest.approx(2.73, abs=0.05)
    np.testing.assert_allclose(r["quadratic_coef"], [2.0, -1.0, 1.0], atol=0.05)
    assert r["quadratic_loss"] < 0.02
    assert r["linear_on_quadratic_loss"] > 1.0  # a line cannot follow the parabola


def test_04_cat_brain(quick):
    r = run_script("04_cat_brain_least_squares.py")
    ns = runpy.run_path(str(EXAMPLES / "04_cat_brain_least_squares.py"))
    table = np.array(ns["TABLE"])
    A = np.c_[table[:, :2], np.ones(len(table))]
    expected = np.linalg.lstsq(A, table[:, 2], rcond=None)[0]
    np.testing.assert_allclose(r["pinv"], expected, atol=1e-10)
    np.testing.assert_allclose(r["gradient_descent"], expected, atol=1e-6)
    assert r["new_threat"][0] > 0.5 > -0.5 > r["new_threat"][1]


def test_05_gradient_field(quick):
    r = run_script("05_gradient_field_contours.py")
    assert r["bowl_grad"] == [12.0, 24.0]
    np.testing.assert_allclose(r["cone_grad"], [0.6, 0.8], atol=1e-12)
    values = [2 * a ** 2 + 3 * b ** 2 for a, b in r["path"]]
    assert all(v1 < v0 for v0, v1 in zip(values, values[1:])) and values[-1] < 1e-4
    assert r["path"][1] == pytest.approx((3 - 0.1 * 12, 4 - 0.1 * 24))
    for picture in r["pictures"]:
        assert Path(picture).parent == quick and Path(picture).stat().st_size > 0


def test_06_taylor_and_convexity(quick):
    import torch
    r = run_script("06_taylor_and_convexity.py")
    assert r["order1"] == pytest.approx(2, abs=0.1)
    assert r["order2"] == pytest.approx(3, abs=0.1)
    errors2 = [row[3] for row in r["rows"]]
    assert all(b < a for a, b in zip(errors2, errors2[1:]))
    ns = runpy.run_path(str(EXAMPLES / "06_taylor_and_convexity.py"))
    X, Y = torch.tensor(ns["X"].numpy()), torch.tensor(ns["Y"].numpy())
    oracle = torch.autograd.functional.hessian(
        lambda w: torch.log(1 + torch.exp(-Y * (X @ w))).mean(),
        torch.tensor([0.5, -0.3], dtype=torch.float64))
    np.testing.assert_allclose(r["hessian"], oracle.numpy(), atol=1e-12)
    np.testing.assert_allclose(r["hessian_fwd_rev"], oracle.numpy(), atol=1e-12)
    d2 = r["min_second_derivative"]
    assert d2["x^2"] == pytest.approx(2) and d2["x^3"] == pytest.approx(-18)
    assert d2["exp(x)"] == pytest.approx(math.exp(-3)) and d2["-log(x)"] == pytest.approx(1 / 9)
    eig = r["hessian_eigenvalues"]
    np.testing.assert_allclose(eig["2 w0^2 + 3 w1^2"], [4, 6])
    np.testing.assert_allclose(eig["w0^2 - w1^2"], [-2, 2])
    assert min(eig["logistic loss"]) > 0


def test_07_linear_regression_d2l(quick, capsys):
    r = run_script("07_linear_regression_d2l.py")
    for name, run in r["runs"].items():
        np.testing.assert_allclose(run["w"], [2, -3.4], atol=0.01, err_msg=name)
        assert run["b"] == pytest.approx(4.2, abs=0.01), name
    assert r["synthetic_linear_identical"]
    out = capsys.readouterr().out
    assert out.count("error in estimating w:") == 3 and "epoch 3, loss" in out


def test_08_logistic_and_softmax(quick):
    r = run_script("08_logistic_and_softmax_regression.py")
    bc = r["breast_cancer"]
    assert r["bce_check"] < 1e-6
    for name, run in bc.items():
        assert run["test_acc"] > 0.93, name
    assert bc["L2 (lambda=0.01)"]["l2_norm"] < bc["plain"]["l2_norm"]
    assert bc["L1 (lambda=0.01)"]["l1_norm"] < bc["plain"]["l1_norm"]
    assert bc["L1 (lambda=0.01)"]["small_weights"] > bc["L2 (lambda=0.01)"]["small_weights"]
    assert r["lbfgs_evals"] <= 70
    assert r["digits_acc"] > 0.9
    assert r["fashion_mnist_acc"] > 0.6


def test_09_mnist_style_training(quick):
    r = run_script("09_mnist_style_training.py")
    acc = r["accuracy"]
    assert set(acc) == {"from scratch, SGD", "logistic, Adam", "MLP, Adam", "CNN, Adam"}
    for name, a in acc.items():
        assert a > 0.4, name  # chance is 0.1; one epoch on 2,000 images
    assert all(math.isfinite(v) for v in r["final_loss"].values())


def test_10_forward_vs_reverse(quick):
    r = run_script("10_forward_vs_reverse.py")
    y = math.log(2) + 10 - math.sin(5)
    dx1, dx2 = 1 / 2 + 5, 2 - math.cos(5)
    assert r["y"] == pytest.approx(y) and r["autograd_y"] == pytest.approx(y)
    assert r["forward_dx1"]["v5"] == pytest.approx(dx1)
    assert r["forward_dx2"]["v5"] == pytest.approx(dx2)
    assert r["adjoints"]["v-1"] == pytest.approx(dx1)
    assert r["adjoints"]["v0"] == pytest.approx(dx2)
    for name, g in r["autograd_adjoints"].items():
        assert g == pytest.approx(r["adjoints"][name]), name
    assert r["forward_ad"] == pytest.approx((dx1, dx2))
    for op in ("LogBackward0", "MulBackward0", "SinBackward0", "SubBackward0", "x1", "x2"):
        assert op in r["dot"]
    assert Path(r["graph_file"]).exists()


def _is_han(ch):
    return "\u4e00" <= ch <= "\u9fff"


def test_11_rnn_scratch_and_concise(quick, capsys):
    r = run_script("11_rnn_scratch_and_concise.py")
    assert r["vocab_size"] == 28  # d2l's cleaning: 26 letters, space, <unk>
    assert r["rnn_shapes"] == ((35, 32, 128), (1, 32, 128))
    for name, ppl in r["perplexity"].items():
        assert all(math.isfinite(p) for p in ppl), name
        assert ppl[0] < 28 and ppl[-1] < 0.8 * ppl[0], name  # below uniform, and learning
        assert ppl[-1] == min(ppl), name
    for name, sample in r["sample"].items():
        assert sample.startswith("time traveller") and len(sample) == 14 + 50, name
        assert set(sample) <= set(" abcdefghijklmnopqrstuvwxyz"), name
    out = capsys.readouterr().out
    assert out.count("tokens/sec on cpu") == 2 and "epoch 20, perplexity" in out


def test_12_gru_lstm_scratch_vs_module(quick):
    import torch
    r = run_script("12_gru_lstm_scratch_vs_module.py")
    for when in ("diffs", "diffs_trained"):
        for name, diffs in r[when].items():
            for what, d in diffs.items():
                assert d < 1e-5, (when, name, what)  # float32 rounding only
    book, after = r["d2l_gru_vs_module"]
    assert book > 1e-3 and after < 1e-5  # d2l resets before the product, torch after it
    for name in ("GRU", "LSTM"):
        scratch, module = r["perplexity"][f"{name} scratch"], r["perplexity"][f"{name} nn.{name}"]
        np.testing.assert_allclose(scratch, module, rtol=1e-4)  # same weights, same batches
        assert all(b < a for a, b in zip(scratch, scratch[1:])), name
    # the module's outputs against PyTorch's own nn.GRU / nn.LSTM with its state_dict
    for name, oracle in r["oracle"].items():
        sd = {k: torch.from_numpy(v) for k, v in oracle["state_dict"].items()}
        vocab_size, hidden = sd["linear.weight"].shape
        rnn = getattr(torch.nn, name)(vocab_size, hidden)
        rnn.load_state_dict({k[4:]: v for k, v in sd.items() if k.startswith("rnn.")})
        X = torch.nn.functional.one_hot(torch.from_numpy(oracle["X"]).T, vocab_size).float()
        with torch.no_grad():
            Y, _ = rnn(X)
            out = Y.reshape(-1, hidden) @ sd["linear.weight"].T + sd["linear.bias"]
        np.testing.assert_allclose(oracle["outputs"], out.numpy(), rtol=1e-4, atol=1e-6)


def test_13_tang_poems_char_lstm(quick):
    r = run_script("13_tang_poems_char_lstm.py")
    assert r["vocab_size"] > 2000
    ppl = r["train_perplexity"]
    assert all(math.isfinite(p) for p in ppl + r["val_perplexity"])
    assert all(b < a for a, b in zip(ppl, ppl[1:])) and ppl[-1] < r["vocab_size"] / 4
    assert r["val_perplexity"][-1] < r["val_perplexity"][0]
    assert set(r["poems"]) == {"床前明月光", "春眠不觉晓", "白日依山尽"}
    for prefix, poem in r["poems"].items():
        assert poem.startswith(prefix)
        new = poem[len(prefix):]
        assert sum(map(_is_han, new)) >= 3, poem  # Chinese out, not <unk> or ASCII
        assert "<unk>" not in new
    regular, lines = r["regular_lines"]
    assert 0 <= regular <= lines


def test_13_verse_shapes():
    ns = runpy.run_path(str(EXAMPLES / "13_tang_poems_char_lstm.py"))
    poem = "床前明月光，疑是地上霜。\n举头望明月，低头思故乡。\n红豆生南国，\n半句"
    assert ns["regular_lines"](poem) == (2, 3)
    seven = "朝辞白帝彩云间，千里江陵一日还。\n"
    assert ns["regular_lines"](seven) == (1, 1)


def _torch_masked_softmax(X, valid_lens):
    """d2l's masked_softmax in PyTorch itself: the oracle for example 14."""
    import torch
    shape = X.shape
    lens = (torch.repeat_interleave(valid_lens, shape[1]) if valid_lens.dim() == 1
            else valid_lens.reshape(-1))
    X = X.reshape(-1, shape[-1]).clone()
    X[~(torch.arange(shape[-1])[None, :] < lens[:, None])] = -1e6
    return torch.softmax(X.reshape(shape), dim=-1)


def test_14_attention_scoring(quick):
    import torch
    r = run_script("14_attention_scoring.py")
    ms = r["masked_softmax"]
    X = torch.from_numpy(ms["X"])
    np.testing.assert_allclose(ms["by_example"],
                               _torch_masked_softmax(X, torch.tensor([2, 3])), atol=1e-6)
    np.testing.assert_allclose(ms["by_query"], _torch_masked_softmax(
        X, torch.tensor([[1, 3], [2, 4]])), atol=1e-6)
    dot = r["dot"]
    q, k, v = (torch.from_numpy(dot[n]) for n in ("queries", "keys", "values"))
    weights = _torch_masked_softmax(q @ k.mT / math.sqrt(2), torch.from_numpy(dot["valid_lens"]))
    np.testing.assert_allclose(dot["weights"], weights, atol=1e-6)
    np.testing.assert_allclose(dot["output"], weights @ v, atol=1e-6)
    assert (dot["weights"][0, 0, 2:] == 0).all() and (dot["weights"][1, 0, 6:] == 0).all()
    additive = r["additive"]
    assert additive["output_shape"] == (2, 1, 4)
    np.testing.assert_allclose(additive["weights"].sum(-1), 1, atol=1e-6)
    assert (additive["weights"][0, 0, 2:] == 0).all()
    for label, diffs in r["sdpa_diffs"].items():
        assert set(diffs) == {"output", "grad q", "grad k", "grad v"}
        assert max(diffs.values()) < 1e-5, label  # the library's SDPA is d2l's, masked
    assert r["mha_padded_weight"] == 0.0
    assert len(r["pictures"]) == 4
    for picture in r["pictures"]:
        assert Path(picture).parent == quick and Path(picture).stat().st_size > 0


def test_15_transformer_from_parts(quick):
    import torch
    r = run_script("15_transformer_from_parts.py")
    P = r["P"]
    i, j = 7, 6  # P[i, 2j] = sin(i / 10000^(2j/d))
    assert P[i, j] == pytest.approx(math.sin(i / 10000 ** (j / 32)), abs=1e-6)
    assert P[i, j + 1] == pytest.approx(math.cos(i / 10000 ** (j / 32)), abs=1e-6)
    for what, d in {**r["block_diffs"], **r["model_diffs"]}.items():
        assert d < 1e-5, what  # the parts are nn.Transformer's layers, to float32 rounding
    parts, modules = r["losses"].values()
    np.testing.assert_allclose(parts, modules, rtol=1e-5)
    assert r["loss_diff"] < 1e-5
    # the module's logits against PyTorch's own nn.Transformer with its state_dict
    o = r["oracle"]
    d_model, nhead, blocks, ffn = o["sizes"]
    model = torch.nn.Transformer(d_model, nhead, blocks, blocks, ffn, dropout=0.0,
                                 batch_first=True)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in o["transformer"].items()})
    src, tgt = torch.from_numpy(o["embedded_src"]), torch.from_numpy(o["embedded_tgt"])
    lens = torch.from_numpy(o["valid_lens"])
    padding = torch.arange(src.shape[1])[None, :] >= lens[:, None]
    with torch.no_grad():
        Y = model(src, tgt, tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(
            tgt.shape[1]), src_key_padding_mask=padding, memory_key_padding_mask=padding,
            tgt_is_causal=True)
        logits = Y @ torch.from_numpy(o["dense"][0]).T + torch.from_numpy(o["dense"][1])
    np.testing.assert_allclose(o["logits"], logits.numpy(), rtol=1e-4, atol=1e-5)
    assert Path(r["picture"]).stat().st_size > 0


def test_16_word2vec_skipgram(quick):
    r = run_script("16_word2vec_skipgram.py")
    assert r["subsampled_tokens"] < r["tokens"] / 2
    the_before, the_after = r["counts"]["the"]
    assert the_after < the_before / 10  # frequent words are thinned out the most
    loss = r["loss"]
    assert all(math.isfinite(v) for v in loss) and loss[-1] < loss[0] < math.log(2) + 0.01
    assert r["ranking_accuracy_before"] == pytest.approx(0.5, abs=0.05)
    assert r["ranking_accuracy"] > 0.6  # contexts told from noise words well above chance
    W, vocab = r["embedding"], r["vocab"]
    unit = W / np.linalg.norm(W, axis=1, keepdims=True)
    assert r["similar"]
    for query, similar in r["similar"].items():
        cos = unit @ unit[vocab[query]]
        best = [vocab.to_tokens(int(i)) for i in np.argsort(-cos)[1:4]]
        assert [word for word, _ in similar] == best, query
        np.testing.assert_allclose([c for _, c in similar], np.sort(cos)[::-1][1:4],
                                   atol=1e-4)
    assert Path(r["picture"]).stat().st_size > 0


def test_script_runs_from_the_command_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZEROGRAD_EXAMPLES")}
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "10_forward_vs_reverse.py"), "--quick",
         "--out-dir", str(tmp_path)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "dy/dx1 = 5.5000, dy/dx2 = 1.7163 from one backward pass" in proc.stdout
    assert (tmp_path / "10_forward_vs_reverse_graph.dot").exists()


# -- notebooks ----------------------------------------------------------------------------
def test_split_cells():
    nbm = _make_notebooks()
    source = ('"""Title line.\n\nMore text.\n"""\n\n# %%\nimport os\n\n\n'
              '# %% [markdown]\n# ## Part\n#\n# words\n\n# %%\nx = 1\n')
    assert nbm.split_cells(source) == [
        ("markdown", "# Title line.\n\nMore text."), ("code", "import os"),
        ("markdown", "## Part\n\nwords"), ("code", "x = 1")]
    nb = nbm.notebook(source)
    assert nb["nbformat"] == 4
    assert nb["cells"][1] == {"cell_type": "code", "metadata": {}, "source": ["import os"],
                              "execution_count": None, "outputs": []}


def test_notebooks_are_up_to_date():
    nbm = _make_notebooks()
    assert [s.name for s in nbm.stale()] == [], "run: python examples/make_notebooks.py"
    names = sorted(p.name for p in (EXAMPLES / "notebooks").glob("*.ipynb"))
    assert names == [s.replace(".py", ".ipynb") for s in SCRIPTS]


@pytest.mark.parametrize("script", SCRIPTS)
def test_notebook_cells_run_in_order(script, quick):
    nb = json.loads((EXAMPLES / "notebooks" / script.replace(".py", ".ipynb")).read_text())
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert len(code) >= 3
    namespace = {"__name__": "__main__"}  # as in a kernel: no __file__
    for k, cell in enumerate(code):
        exec(compile(cell, f"{script}[cell {k}]", "exec"), namespace)
    assert isinstance(namespace["results"], dict) and namespace["results"]
    assert any(quick.iterdir())  # pictures went to ZEROGRAD_EXAMPLES_OUT
