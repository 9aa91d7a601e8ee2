"""RNNCell, GRUCell and LSTMCell against torch, and the fused cell ops of
zerograd.ops.recurrent: gradcheck and gradgradcheck of each, the array-level backward
against the differentiable one, forward mode against torch.func.jvp."""
import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd import nn
from zerograd.autograd import grad, gradcheck, gradgradcheck
from zerograd.ops import recurrent, recurrent_layers
from tests.oracle import both, check_jvp, check_module

RNG = np.random.default_rng(1)
IN, HID, BATCH = 3, 4, 2
CELLS = {"rnn_tanh": ("RNNCell", {}), "rnn_relu": ("RNNCell", {"nonlinearity": "relu"}),
         "gru": ("GRUCell", {}), "lstm": ("LSTMCell", {})}


def randn(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


class Step:
    """A cell called with its state as separate tensors: ``(x, *state) -> outputs``."""

    def __init__(self, cell):
        self.cell = cell

    def __call__(self, x, *state):
        hx = None if not state else (tuple(state) if len(state) == 2 else state[0])
        out = self.cell(x, hx)
        return out if isinstance(out, tuple) else (out,)


def module_of(lib, cell):
    class Wrapped(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = cell

        def forward(self, *args):
            return Step(self.cell)(*args)
    return Wrapped()


def check_cell(kind, bias=True, batched=True, with_state=True, dtype=np.float64,
               device="cpu"):
    cls, extra = CELLS[kind]
    z = getattr(nn, cls)(IN, HID, bias=bias, dtype=getattr(zg, np.dtype(dtype).name), **extra)
    t = getattr(torch.nn, cls)(IN, HID, bias=bias, dtype=getattr(torch, np.dtype(dtype).name),
                               **extra)
    lead = (BATCH,) if batched else ()
    arrays = [randn(*lead, IN, dtype=dtype)]
    if with_state:
        arrays += [randn(*lead, HID, dtype=dtype) for _ in range(2 if kind == "lstm" else 1)]
    check_module(module_of(zg, z), module_of(torch, t), *arrays, device=device)


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
def test_cell_matches_torch(kind, bias, batched, with_state):
    check_cell(kind, bias, batched, with_state)


@pytest.mark.parametrize("kind", list(CELLS))
def test_cell_matches_torch_on_device(kind, device):
    check_cell(kind, dtype=np.float32, device=device)


def test_cell_parameters_and_repr_match_torch():
    for kind, (cls, extra) in CELLS.items():
        for bias in (True, False):
            z = getattr(nn, cls)(IN, HID, bias=bias, **extra)
            t = getattr(torch.nn, cls)(IN, HID, bias=bias, **extra)
            assert [(k, tuple(v.shape)) for k, v in z.state_dict().items()] == \
                [(k, tuple(v.shape)) for k, v in t.state_dict().items()]
            assert repr(z) == repr(t)
            bound = 1 / np.sqrt(HID)
            assert all(np.abs(p.detach().numpy()).max() <= bound for p in z.parameters())


@pytest.mark.parametrize("kind", list(CELLS))
def test_cell_errors_match_torch(kind):
    cls, extra = CELLS[kind]
    z, t = getattr(nn, cls)(IN, HID, **extra), getattr(torch.nn, cls)(IN, HID, **extra)
    lstm = kind == "lstm"

    def state(lib, *shapes, dtype=None):
        tensors = [lib.zeros(*s, dtype=dtype) for s in shapes]
        return tuple(tensors) if lstm else tensors[0]

    cases = [
        lambda lib: (lib.zeros(BATCH, IN + 1), None),
        lambda lib: (lib.zeros(BATCH, IN, 1), None),
        lambda lib: (lib.zeros(BATCH, IN), state(lib, (BATCH + 1, HID), (BATCH, HID))),
        lambda lib: (lib.zeros(BATCH, IN), state(lib, (BATCH, HID + 1), (BATCH, HID))),
        lambda lib: (lib.zeros(BATCH, IN), state(lib, (BATCH, HID, 1), (BATCH, HID))),
        lambda lib: (lib.zeros(IN), state(lib, (BATCH, HID), (BATCH, HID))),
    ]
    cases += [lambda lib: (lib.zeros(BATCH, IN, dtype=lib.float64), None),
              lambda lib: (lib.zeros(BATCH, IN),
                           state(lib, (BATCH, HID), (BATCH, HID), dtype=lib.float64))]
    if lstm:
        cases += [lambda lib: (lib.zeros(BATCH, IN), state(lib, (BATCH, HID), (BATCH, 1))),
                  lambda lib: (lib.zeros(BATCH, IN), state(lib, (BATCH, HID), (1, HID)))]
    for case in cases:
        with pytest.raises(Exception) as expected:
            t(*case(torch))
        with pytest.raises(expected.type) as got:
            z(*case(zg))
        assert str(got.value) == str(expected.value)
    if kind == "rnn_tanh":
        z.nonlinearity = t.nonlinearity = "sigmoid"
        with pytest.raises(RuntimeError, match="Unknown nonlinearity: sigmoid"):
            t(torch.zeros(BATCH, IN))
        with pytest.raises(RuntimeError, match="Unknown nonlinearity: sigmoid"):
            z(zg.zeros(BATCH, IN))


# -- the ops: torch's functions, gradcheck, the two backward paths, forward mode ------------------
def cell_arrays(kind, bias=True, proj=False):
    """Inputs of the torch-style cell function: x, state(s), w_ih, w_hh[, b_ih, b_hh]."""
    gates = HID * {"rnn_tanh": 1, "rnn_relu": 1, "gru": 3, "lstm": 4}[kind]
    arrays = [randn(BATCH, IN), randn(BATCH, HID)]
    if kind == "lstm":
        arrays.append(randn(BATCH, HID))
    arrays += [randn(gates, IN), randn(gates, HID)]
    if bias:
        arrays += [randn(gates), randn(gates)]
    return arrays


def cell_fn(kind):
    """``fn(lib, x, *state, w_ih, w_hh, ...)`` calling torch's (or zerograd's) cell function."""
    def fn(lib, x, h, *rest):
        if kind == "lstm":
            return getattr(lib, "lstm_cell")(x, (h, rest[0]), *rest[1:])
        return getattr(lib, f"{kind}_cell")(x, h, *rest)
    return fn


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("bias", [True, False])
def test_cell_functions_match_torch(kind, bias):
    both(cell_fn(kind), *cell_arrays(kind, bias))


def fused_inputs(kind, bias=True, proj=False):
    """Float64 inputs of the fused op itself: gi, state(s), W_hh, b_hh[, W_hr]."""
    gates = HID * {"rnn_tanh": 1, "rnn_relu": 1, "gru": 3, "lstm": 4}[kind]
    h_size = 2 if proj else HID
    arrays = [randn(BATCH, gates), randn(BATCH, h_size)]
    if kind == "lstm":
        arrays.append(randn(BATCH, HID))
    arrays += [randn(gates, h_size), randn(gates) if bias else None]
    if kind == "lstm":
        arrays.append(randn(h_size, HID) if proj else None)
    return [None if a is None else zg.tensor(a, requires_grad=True) for a in arrays]


FUSED = [("rnn_tanh", recurrent.RNNTanhCell, False), ("rnn_relu", recurrent.RNNReluCell, False),
         ("gru", recurrent.GRUCell, False), ("lstm", recurrent.LSTMCell, False),
         ("lstm", recurrent.LSTMCell, True)]


@pytest.mark.parametrize("kind,op,proj", FUSED)
@pytest.mark.parametrize("bias", [True, False])
def test_fused_cell_gradcheck_and_gradgradcheck(kind, op, proj, bias):
    inputs = fused_inputs(kind, bias, proj)
    assert gradcheck(op.apply, inputs)
    assert gradgradcheck(op.apply, inputs)


@pytest.mark.parametrize("kind,op,proj", FUSED)
def test_array_backward_equals_differentiable_backward(kind, op, proj):
    # create_graph=False runs backward_array (arrays, kept activations); True runs backward
    # (recomputed with zerograd ops): the same derivative
    args = fused_inputs(kind, True, proj)
    inputs = [t for t in args if t is not None]
    outs = op.apply(*args)
    outs = outs if isinstance(outs, tuple) else (outs,)
    ups = [zg.randn(*o.shape, dtype=zg.float64) for o in outs]
    fast = grad(outs, inputs, ups, retain_graph=True)
    slow = grad(outs, inputs, ups, create_graph=True)
    assert any(g.requires_grad for g in slow)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", list(CELLS))
def test_cell_functions_forward_mode_matches_torch(kind):
    fn = cell_fn(kind)
    check_jvp(lambda *a: fn(zg, *a), lambda *a: fn(torch, *a), *cell_arrays(kind))


def test_split_rows_gradcheck_and_one_node():
    a = zg.randn(6, 3, dtype=zg.float64, requires_grad=True)
    assert gradcheck(lambda a: recurrent_layers.SplitRows.apply(a, (3, 2, 1)), (a,))
    assert gradgradcheck(lambda a: recurrent_layers.SplitRows.apply(a, (3, 2, 1)), (a,))
    pieces = recurrent_layers.SplitRows.apply(a, (3, 2, 1))
    assert len({id(p.grad_fn) for p in pieces}) == 1
    assert [tuple(p.shape) for p in pieces] == [(3, 3), (2, 3), (1, 3)]


# -- the whole-layer ops of equal-length sequences (ops.recurrent_layers) -------------------------
STEPS = 3


def layer_case(kind, bias=True, proj=False, reverse=False, steps=STEPS):
    """(op, float64 inputs, kwargs) of a layer op over ``steps`` steps: the cell's inputs
    with gi holding every step's rows."""
    cell_args = fused_inputs(kind, bias, proj)
    gi = zg.tensor(randn(steps * BATCH, cell_args[0].shape[1]), requires_grad=True)
    op = {"rnn_tanh": recurrent_layers.RNNLayer, "rnn_relu": recurrent_layers.RNNLayer,
          "gru": recurrent_layers.GRULayer, "lstm": recurrent_layers.LSTMLayer}[kind]
    kwargs = {"reverse": reverse}
    if kind == "rnn_relu":
        kwargs["relu"] = True
    return op, [gi] + cell_args[1:], kwargs


@pytest.mark.parametrize("kind,proj", [(k, p) for k, _, p in FUSED])
@pytest.mark.parametrize("reverse", [False, True])
def test_layer_op_gradcheck_and_gradgradcheck(kind, proj, reverse):
    op, inputs, kwargs = layer_case(kind, True, proj, reverse)
    assert gradcheck(lambda *a: op.apply(*a, **kwargs), inputs)
    # the second derivative is the cells' own (their gradgradcheck is above): two steps
    # check that it is connected through the recurrence, in one direction only (time)
    if not reverse:
        op, inputs, kwargs = layer_case(kind, True, proj, reverse, steps=2)
        assert gradgradcheck(lambda *a: op.apply(*a, **kwargs), inputs)


@pytest.mark.parametrize("kind,proj", [(k, p) for k, _, p in FUSED])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("used", ["all", "output", "state"])
def test_layer_op_array_backward_equals_differentiable_backward(kind, proj, reverse, used):
    # one GEMM per weight after BPTT (backward_array) vs the cells' rules step by step
    # (backward); "output"/"state": the other outputs get no gradient (None, not zeros)
    op, args, kwargs = layer_case(kind, kind != "rnn_relu", proj, reverse)
    inputs = [t for t in args if t is not None]
    outs = op.apply(*args, **kwargs)
    outs = {"all": outs, "output": outs[:1], "state": outs[1:]}[used]
    ups = [zg.randn(*o.shape, dtype=zg.float64) for o in outs]
    fast = grad(outs, inputs, ups, retain_graph=True)
    slow = grad(outs, inputs, ups, create_graph=True)
    assert any(g.requires_grad for g in slow)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("kind", ["rnn_tanh", "gru", "lstm"])
def test_layer_op_equals_the_cells_step_by_step(kind):
    op, args, kwargs = layer_case(kind)
    cell = {"rnn_tanh": recurrent.RNNTanhCell, "gru": recurrent.GRUCell,
            "lstm": recurrent.LSTMCell}[kind]
    n_state = 2 if kind == "lstm" else 1
    gi, state, weights = args[0], tuple(args[1:1 + n_state]), args[1 + n_state:]
    outs = []
    for t in range(STEPS):
        new = cell.apply(gi[t * BATCH:(t + 1) * BATCH], *state, *weights)
        state = new if n_state == 2 else (new,)
        outs.append(state[0])
    expected = (zg.cat(outs, 0),) + state
    for a, b in zip(op.apply(*args, **kwargs), expected):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("kind,proj", [("rnn_relu", False), ("gru", False), ("lstm", True)])
def test_layer_op_forward_mode_agrees_with_reverse_mode(kind, proj):
    # <u, J t> from the layer's jvp equals <J^T u, t> from its backward
    op, inputs, kwargs = layer_case(kind, True, proj, reverse=True)
    tangents = tuple(zg.randn(*t.shape, dtype=zg.float64) for t in inputs)
    outs, t_outs = zg.func.jvp(lambda *a: op.apply(*a, **kwargs),
                               tuple(t.detach() for t in inputs), tangents)
    ups = [zg.randn(*o.shape, dtype=zg.float64) for o in outs]
    grads = grad(op.apply(*inputs, **kwargs), inputs, ups)
    forward = sum(float((u * t).sum()) for u, t in zip(ups, t_outs))
    reverse = sum(float((g * t).sum()) for g, t in zip(grads, tangents))
    assert forward == pytest.approx(reverse, rel=1e-10)


# -- layers at 2 threads --------------------------------------------------------------------
@pytest.fixture
def two_threads():
    before = zg.get_num_threads()
    zg.set_num_threads(2)
    yield
    zg.set_num_threads(before)


def run_layer_twice(kind, x, state, t_layer):
    """Outputs and every gradient of a zerograd layer with torch's weights, as arrays."""
    z_layer = getattr(nn, kind)(8, 16, num_layers=2, bidirectional=True)
    z_layer.load_state_dict({k: zg.tensor(v.detach().numpy().copy())
                             for k, v in t_layer.state_dict().items()})
    inputs = [zg.tensor(a, requires_grad=True) for a in (x,) + state]
    out, final = z_layer(inputs[0], tuple(inputs[1:]) if kind == "LSTM" else inputs[1])
    final = final if kind == "LSTM" else (final,)
    (out.square().sum() + sum(s.sum() for s in final)).backward()
    return [a.detach().numpy().copy() for a in
            [out, *final, *(i.grad for i in inputs), *(p.grad for p in z_layer.parameters())]]


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_layer_at_two_threads_matches_torch_and_repeats_bit_for_bit(kind, two_threads):
    # batch 32: the benchmark's batch, large enough for any batch split of the layer ops
    x = randn(5, 32, 8, dtype=np.float32)
    state = tuple(randn(4, 32, 16, dtype=np.float32) for _ in range(2 if kind == "LSTM" else 1))
    torch.manual_seed(0)
    t_layer = getattr(torch.nn, kind)(8, 16, num_layers=2, bidirectional=True)
    t_inputs = [torch.tensor(a, requires_grad=True) for a in (x,) + state]
    out, final = t_layer(t_inputs[0], tuple(t_inputs[1:]) if kind == "LSTM" else t_inputs[1])
    final = final if kind == "LSTM" else (final,)
    (out.square().sum() + sum(s.sum() for s in final)).backward()
    expected = [a.detach().numpy() for a in
                [out, *final, *(i.grad for i in t_inputs), *(p.grad for p in t_layer.parameters())]]
    first = run_layer_twice(kind, x, state, t_layer)
    again = run_layer_twice(kind, x, state, t_layer)
    assert len(first) == len(expected)
    for k, (z, t, z2) in enumerate(zip(first, expected, again)):
        np.testing.assert_allclose(z, t, rtol=1e-4, atol=1e-5, err_msg=f"result {k}")
        assert np.array_equal(z, z2), f"result {k} differs between two 2-thread runs"
