"""RNN, GRU and LSTM layers against torch on the same weights.

Every combination of layers (1, 2) x bidirectional x batch_first x packed input x initial
state, for tanh/relu RNN, GRU, LSTM and LSTM with a projection: outputs, final states and
the gradients of the input, the initial state and every parameter; packed lengths in every
order; forward mode. Then unbatched input, torch's error messages, parameter names and
init, dropout between layers, a 1,000-step backward, truncated BPTT, and d2l's concise RNN
language models (RNN, GRU, LSTM, deep, bidirectional) run verbatim in both libraries.
"""
import itertools
import warnings

import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd import nn
from zerograd.autograd import gradgradcheck
from tests.d2l._harness import compare, run_both
from tests.oracle import assert_close, check_jvp, check_module, copy_params

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported")

RNG = np.random.default_rng(0)
IN, HID, PROJ, STEPS = 3, 4, 2, 4
LENGTHS = [3, 4, 1, 4]  # unsorted, with a tie: packed with enforce_sorted=False

KINDS = {  # name: (class name, extra constructor arguments)
    "rnn_tanh": ("RNN", {}), "rnn_relu": ("RNN", {"nonlinearity": "relu"}),
    "gru": ("GRU", {}), "lstm": ("LSTM", {}), "lstm_proj": ("LSTM", {"proj_size": PROJ}),
}


def randn(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


def pair(kind, dtype=np.float64, **kwargs):
    """The zerograd and torch layers of one kind, same arguments (weights copied later)."""
    cls, extra = KINDS[kind]
    kwargs = {**extra, **kwargs}
    z = getattr(nn, cls)(IN, HID, dtype=zg.float64 if dtype == np.float64 else zg.float32,
                         **kwargs)
    t = getattr(torch.nn, cls)(IN, HID, dtype=torch.float64 if dtype == np.float64
                               else torch.float32, **kwargs)
    return z, t


class Run:
    """A layer called with its initial state given as separate tensors (so that the oracle
    sees their gradients), on padded input that it packs first when ``lengths`` is set;
    returns (padded output, *final state tensors). Written once for both libraries."""

    def __init__(self, lib, layer, lengths=None):
        self.lib, self.layer, self.lengths = lib, layer, lengths

    def __call__(self, x, *state):
        lib, layer = self.lib, self.layer
        rnn_utils = lib.nn.utils.rnn
        batch_first = layer.batch_first
        if self.lengths is not None:
            x = rnn_utils.pack_padded_sequence(x, self.lengths, batch_first=batch_first,
                                               enforce_sorted=False)
        hx = None if not state else (tuple(state) if len(state) == 2 else state[0])
        out, final = layer(x, hx)
        if self.lengths is not None:
            out, lengths = rnn_utils.pad_packed_sequence(out, batch_first=batch_first)
            assert lengths.tolist() == list(self.lengths)
        return (out,) + (tuple(final) if isinstance(final, tuple) else (final,))


def module_of(lib, run):
    """``run`` as a Module of ``lib`` holding the layer (the oracle compares its params)."""
    class Wrapped(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = run.layer

        def forward(self, *args):
            return run(*args)
    return Wrapped()


def state_arrays(kind, layers, directions, batch, dtype=np.float64):
    h = PROJ if kind == "lstm_proj" else HID
    arrays = [randn(layers * directions, batch, h, dtype=dtype)]
    if kind.startswith("lstm"):
        arrays.append(randn(layers * directions, batch, HID, dtype=dtype))
    return arrays


def check_layer(kind, layers=1, bidirectional=False, batch_first=False, packed=False,
                with_state=False, dtype=np.float64, device="cpu"):
    kwargs = dict(num_layers=layers, bidirectional=bidirectional, batch_first=batch_first)
    if layers == 2:
        kwargs["dropout"] = 0.3  # evaluation mode: dropout must not act
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        z, t = pair(kind, dtype, **kwargs)
    if layers == 2:
        z.eval()
        t.eval()
    lengths = LENGTHS if packed else None
    batch = len(LENGTHS)
    x = randn(*((batch, STEPS, IN) if batch_first else (STEPS, batch, IN)), dtype=dtype)
    arrays = [x] + (state_arrays(kind, layers, 2 if bidirectional else 1, batch, dtype)
                    if with_state else [])
    copy_params(z, t)
    check_module(module_of(zg, Run(zg, z, lengths)), module_of(torch, Run(torch, t, lengths)),
                 *arrays, device=device)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("layers,bidirectional,batch_first,packed,with_state",
                         list(itertools.product([1, 2], [False, True], [False, True],
                                                [False, True], [False, True])))
def test_layer_matches_torch(kind, layers, bidirectional, batch_first, packed, with_state):
    check_layer(kind, layers, bidirectional, batch_first, packed, with_state)


@pytest.mark.parametrize("kind", ["rnn_tanh", "gru", "lstm_proj"])
def test_layer_matches_torch_on_device(kind, device):
    check_layer(kind, layers=2, bidirectional=True, packed=True, with_state=True,
                dtype=np.float32, device=device)
    check_layer(kind, layers=1, batch_first=True, dtype=np.float32, device=device)


@pytest.mark.parametrize("lengths", sorted(set(itertools.permutations([3, 1, 2, 3]))))
def test_packed_lengths_in_every_order_match_torch(lengths):
    z, t = pair("lstm", num_layers=2, bidirectional=True)
    copy_params(z, t)
    arrays = [randn(3, 4, IN)] + state_arrays("lstm", 2, 2, 4)
    check_module(module_of(zg, Run(zg, z, lengths)), module_of(torch, Run(torch, t, lengths)),
                 *arrays, copy=False)


def test_packed_input_sorted_lengths_and_packed_output():
    z, t = pair("lstm", num_layers=2)
    copy_params(z, t)
    x = randn(5, 3, IN)
    pz = nn.utils.rnn.pack_padded_sequence(zg.tensor(x), [5, 3, 2])
    pt = torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x), [5, 3, 2])
    (oz, (hz, cz)), (ot, (ht, ct)) = z(pz), t(pt)
    assert isinstance(oz, nn.utils.rnn.PackedSequence)
    assert oz.sorted_indices is None and oz.unsorted_indices is None
    assert oz.batch_sizes.tolist() == ot.batch_sizes.tolist()
    for a, b in ((oz.data, ot.data), (hz, ht), (cz, ct)):
        assert_close(a, b)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("batch_first", [False, True])
def test_unbatched_input_matches_torch(kind, batch_first):
    z, t = pair(kind, num_layers=2, batch_first=batch_first)
    copy_params(z, t)
    x = randn(STEPS, IN)
    states = [s[:, 0] for s in state_arrays(kind, 2, 1, 1)]
    for arrays in ([x], [x] + states):
        zo, to = check_module(module_of(zg, Run(zg, z)), module_of(torch, Run(torch, t)),
                              *arrays, copy=False)
        assert tuple(zo[0].shape) == tuple(to[0].shape)  # (T, hidden): no batch dim


def test_float32_default_and_gradgradcheck_through_layers():
    for kind in ("gru", "lstm_proj"):
        z, t = pair(kind, np.float32, num_layers=2, bidirectional=True)
        check_module(z, t, randn(STEPS, 2, IN, dtype=np.float32))
    zg.manual_seed(0)
    for kind in ("rnn_tanh", "gru", "lstm_proj"):
        cls, extra = KINDS[kind]
        layer = getattr(nn, cls)(2, 3, num_layers=2, dtype=zg.float64, **extra)
        x = zg.randn(2, 1, 2, dtype=zg.float64, requires_grad=True)
        w = layer.weight_hh_l0
        assert gradgradcheck(lambda x, w: _with_weight(layer, "weight_hh_l0", w, x), (x, w))


@pytest.mark.parametrize("kind", ["rnn_relu", "gru", "lstm_proj"])
def test_forward_mode_through_layers_matches_torch(kind):
    z, t = pair(kind, num_layers=2, bidirectional=True)
    copy_params(z, t)

    def outputs(layer):
        def fn(x):
            out, state = layer(x)
            return (out,) + (state if isinstance(state, tuple) else (state,))
        return fn
    check_jvp(outputs(z), outputs(t), randn(STEPS, 2, IN))


def _with_weight(layer, name, w, x):
    """The layer's output with parameter ``name`` replaced by the tensor ``w``."""
    saved = layer._parameters[name]
    layer._parameters[name] = w
    try:
        return layer(x)[0]
    finally:
        layer._parameters[name] = saved


def test_state_dict_keys_shapes_and_flat_weights_match_torch():
    for kind in KINDS:
        for layers, bidirectional, bias in itertools.product([1, 3], [False, True],
                                                             [True, False]):
            z, t = pair(kind, num_layers=layers, bidirectional=bidirectional, bias=bias)
            zs, ts = z.state_dict(), t.state_dict()
            assert list(zs) == list(ts)
            assert [tuple(v.shape) for v in zs.values()] == [tuple(v.shape)
                                                            for v in ts.values()]
            assert z._flat_weights_names == t._flat_weights_names
            assert z._all_weights == t._all_weights
            assert [[p is getattr(z, n) for p, n in zip(ws, names)]
                    for ws, names in zip(z.all_weights, z._all_weights)] == \
                [[True] * len(names) for names in z._all_weights]
            assert [w is getattr(z, n) for w, n in zip(z._flat_weights,
                                                      z._flat_weights_names)]
            z.flatten_parameters()
            assert repr(z) == repr(t)


def test_init_is_uniform_in_plus_minus_one_over_sqrt_hidden_and_seeded():
    zg.manual_seed(3)
    a = nn.LSTM(5, 16, 2, proj_size=4)
    zg.manual_seed(3)
    b = nn.LSTM(5, 16, 2, proj_size=4)
    values = np.concatenate([p.detach().numpy().ravel() for p in a.parameters()])
    assert np.abs(values).max() <= 0.25 and np.abs(values).max() > 0.24
    assert abs(values.mean()) < 0.01 and abs(values.std() - 0.25 / np.sqrt(3)) < 0.01
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_dropout_acts_between_layers_in_training_only():
    # p = 1 zeroes the first layer's output: the second layer then sees zeros, in both
    # libraries, while the last layer's output is not dropped
    z, t = pair("gru", num_layers=2, dropout=1.0)
    copy_params(z, t)
    x = randn(STEPS, 2, IN)
    (zo, zh), (to, th) = z(zg.tensor(x)), t(torch.tensor(x))
    assert_close(zo, to)
    assert_close(zh, th)
    assert np.abs(zo.detach().numpy()).min() > 0
    z.eval()
    t.eval()
    assert_close(z(zg.tensor(x))[0], t(torch.tensor(x))[0])
    # p = 0.5: a fresh mask each call in training, reproducible with the seed
    layer = nn.LSTM(IN, HID, 3, dropout=0.5)
    xs = zg.tensor(randn(STEPS, 2, IN, dtype=np.float32))
    zg.manual_seed(1)
    first = layer(xs)[0].detach().numpy()
    second = layer(xs)[0].detach().numpy()
    zg.manual_seed(1)
    again = layer(xs)[0].detach().numpy()
    assert not np.allclose(first, second)
    np.testing.assert_array_equal(first, again)
    layer.eval()
    np.testing.assert_array_equal(layer(xs)[0].detach().numpy(),
                                  layer(xs)[0].detach().numpy())


def test_constructor_errors_and_warning_like_torch():
    calls = [("RNN", (2, 3), {"nonlinearity": "sigmoid"}), ("GRU", (2, 3), {"proj_size": 1}),
             ("RNN", (2, 3), {"proj_size": 1}), ("LSTM", (2, 3), {"proj_size": 3}),
             ("LSTM", (2, 3), {"proj_size": -1}), ("LSTM", (2, 3), {"dropout": 1.5}),
             ("LSTM", (2, 3), {"dropout": True}), ("LSTM", (2, 0), {}), ("LSTM", (0, 2), {}),
             ("LSTM", (2, 3, 0), {}), ("GRU", (2.0, 3), {}), ("GRU", (2, 3), {"bias": 1}),
             ("GRU", (2, 3), {"batch_first": None})]
    for cls, args, kwargs in calls:
        with pytest.raises(Exception) as expected:
            getattr(torch.nn, cls)(*args, **kwargs)
        with pytest.raises(expected.type) as got:
            getattr(nn, cls)(*args, **kwargs)
        assert str(got.value) == str(expected.value), (cls, args, kwargs)
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.LSTM(2, 3, dropout=0.5)


def _same_error(z_call, t_call):
    with pytest.raises(Exception) as expected:
        t_call()
    with pytest.raises(expected.type) as got:
        z_call()
    assert str(got.value) == str(expected.value).replace("torch.", "zerograd.")


@pytest.mark.parametrize("kind", ["rnn_tanh", "gru", "lstm"])
def test_forward_errors_match_torch(kind):
    z, t = pair(kind, num_layers=2)
    lstm = kind == "lstm"

    def state(lib, layers, batch, size=HID, ndim=3):
        shape = (layers, batch, size)[3 - ndim:]
        h = lib.zeros(*shape, dtype=lib.float64)
        return (h, lib.zeros(*shape, dtype=lib.float64)) if lstm else h

    cases = [
        lambda lib: ((STEPS, 3, IN + 1), None),  # wrong input size
        lambda lib: ((STEPS, 3, IN, 1), None),  # 4-D input
        lambda lib: ((IN,), None),  # 1-D input
        lambda lib: ((STEPS, 3, IN), state(lib, 2, 2)),  # wrong batch in the state
        lambda lib: ((STEPS, 3, IN), state(lib, 1, 3)),  # wrong number of layers
        lambda lib: ((STEPS, 3, IN), state(lib, 2, 3, HID + 1)),  # wrong hidden size
        lambda lib: ((STEPS, 3, IN), state(lib, 2, 3, ndim=2)),  # 2-D state, batched input
        lambda lib: ((STEPS, IN), state(lib, 2, 3)),  # 3-D state, unbatched input
        lambda lib: ((0, 3, IN), None),  # no time steps
    ]
    for case in cases:
        def call(lib, layer):
            shape, hx = case(lib)
            return lambda: layer(lib.zeros(*shape, dtype=lib.float64), hx)
        _same_error(call(zg, z), call(torch, t))
    if lstm:  # the cell state checked on its own
        bad = lambda lib: (lib.zeros(2, 3, HID, dtype=lib.float64),
                           lib.zeros(2, 2, HID, dtype=lib.float64))
        _same_error(lambda: z(zg.zeros(STEPS, 3, IN, dtype=zg.float64), bad(zg)),
                    lambda: t(torch.zeros(STEPS, 3, IN, dtype=torch.float64), bad(torch)))
    _same_error(lambda: z(zg.zeros(STEPS, 3, IN)), lambda: t(torch.zeros(STEPS, 3, IN)))
    if not lstm:  # a state of another dtype (torch's LSTM fails inside oneDNN instead)
        _same_error(lambda: z(zg.zeros(STEPS, 3, IN, dtype=zg.float64), state(zg, 2, 3)
                              .float()),
                    lambda: t(torch.zeros(STEPS, 3, IN, dtype=torch.float64),
                              state(torch, 2, 3).float()))


def test_empty_batch_gives_empty_outputs_like_torch():
    z, t = pair("lstm", num_layers=2, bidirectional=True)
    zo, (zh, zc) = z(zg.zeros(STEPS, 0, IN, dtype=zg.float64))
    to, (th, tc) = t(torch.zeros(STEPS, 0, IN, dtype=torch.float64))
    assert [tuple(a.shape) for a in (zo, zh, zc)] == [tuple(a.shape) for a in (to, th, tc)]


def test_backward_through_1000_steps_matches_torch():
    # the engine is iterative: no recursion limit on a 1000-node chain; the gradient of the
    # initial state is reached only through all 1000 steps
    z, t = pair("lstm", np.float32)
    copy_params(z, t)
    x, h0, c0 = (randn(*shape, dtype=np.float32) for shape in
                 ((1000, 2, IN), (1, 2, HID), (1, 2, HID)))
    check_module(module_of(zg, Run(zg, z)), module_of(torch, Run(torch, t)), x, h0, c0,
                 copy=False, rtol=1e-3, atol=1e-4)


def test_truncated_bptt_with_detach_matches_torch():
    z, t = pair("lstm", num_layers=2)
    copy_params(z, t)
    zs = ts = None
    for segment in range(3):
        x = randn(STEPS, 2, IN)
        if zs is not None:  # d2l's train_epoch_ch8: cut the graph at the segment boundary
            zs = tuple(s.detach() for s in zs)
            for s in ts:
                s.detach_()
        zo, zs = z(zg.tensor(x), zs)
        to, ts = t(torch.tensor(x), ts)
        zo.sum().backward()  # would raise if the graph reached the freed last segment
        to.sum().backward()
        for (name, p), q in zip(z.named_parameters(), t.parameters()):
            assert_close(p.grad, q.grad, what=f"segment {segment}: {name}")


def test_d2l_rnn_model_and_seq2seq_init_run():
    # d2l's RNNModel (one-hot input) and init_seq2seq (xavier on the GRU weights)
    vocab, hidden = 7, 5
    rnn_layer = nn.GRU(vocab, hidden, 2, dropout=0.1)
    for name in rnn_layer._flat_weights_names:
        if "weight" in name:
            nn.init.xavier_uniform_(rnn_layer._parameters[name])
    linear = nn.Linear(hidden, vocab)
    state = zg.zeros((rnn_layer.num_layers, 3, rnn_layer.hidden_size))
    tokens = zg.randint(0, vocab, (3, 4))
    x = nn.functional.one_hot(tokens.T.long(), vocab).to(zg.float32)
    y, state = rnn_layer(x, state)
    out = linear(y.reshape((-1, y.shape[-1])))
    loss = nn.functional.cross_entropy(out, tokens.T.reshape(-1))
    loss.backward()
    state.detach_()
    assert tuple(out.shape) == (12, vocab) and not state.requires_grad
    assert all(p.grad is not None for p in rnn_layer.parameters())


def concise_rnn_lm(torch, nn, F, data, kind):  # d2l 9.6 / 10.1-10.4 (8.6, 9.1-9.4 in 0.17)
    r = {}
    vocab_size, num_hiddens, device = 12, 8, torch.device('cpu')
    rnn_layer = {"rnn": lambda: nn.RNN(vocab_size, num_hiddens),
                 "gru": lambda: nn.GRU(vocab_size, num_hiddens),
                 "lstm": lambda: nn.LSTM(vocab_size, num_hiddens),
                 "deep_lstm": lambda: nn.LSTM(vocab_size, num_hiddens, 2),
                 "bi_gru": lambda: nn.GRU(vocab_size, num_hiddens, 2, bidirectional=True),
                 }[kind]()

    class RNNModel(nn.Module):
        """The RNN model."""
        def __init__(self, rnn_layer, vocab_size, **kwargs):
            super(RNNModel, self).__init__(**kwargs)
            self.rnn = rnn_layer
            self.vocab_size = vocab_size
            self.num_hiddens = self.rnn.hidden_size
            if not self.rnn.bidirectional:
                self.num_directions = 1
                self.linear = nn.Linear(self.num_hiddens, self.vocab_size)
            else:
                self.num_directions = 2
                self.linear = nn.Linear(self.num_hiddens * 2, self.vocab_size)

        def forward(self, inputs, state):
            X = F.one_hot(inputs.T.long(), self.vocab_size)
            X = X.to(torch.float32)
            Y, state = self.rnn(X, state)
            output = self.linear(Y.reshape((-1, Y.shape[-1])))
            return output, state

        def begin_state(self, device, batch_size=1):
            if not isinstance(self.rnn, nn.LSTM):
                return torch.zeros((self.num_directions * self.rnn.num_layers,
                                    batch_size, self.num_hiddens), device=device)
            else:
                return (torch.zeros((self.num_directions * self.rnn.num_layers,
                                     batch_size, self.num_hiddens), device=device),
                        torch.zeros((self.num_directions * self.rnn.num_layers,
                                     batch_size, self.num_hiddens), device=device))

    def grad_clipping(net, theta):
        params = [p for p in net.parameters() if p.requires_grad]
        norm = torch.sqrt(sum(torch.sum((p.grad ** 2)) for p in params))
        if norm > theta:
            for param in params:
                param.grad[:] *= theta / norm

    def predict_ch8(prefix, num_preds, net, device):  # token ids instead of a vocab
        state = net.begin_state(batch_size=1, device=device)
        outputs = [prefix[0]]
        get_input = lambda: torch.tensor([outputs[-1]], device=device).reshape((1, 1))
        for y in prefix[1:]:
            _, state = net(get_input(), state)
            outputs.append(y)
        for _ in range(num_preds):
            y, state = net(get_input(), state)
            outputs.append(int(y.argmax(dim=1).reshape(1)))
        return outputs

    net = RNNModel(rnn_layer, vocab_size=vocab_size)
    rng = np.random.default_rng(0)  # same starting weights in both frameworks
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32) * 0.5))
    loss = nn.CrossEntropyLoss()
    updater = torch.optim.SGD(net.parameters(), 1)
    tokens = torch.tensor(rng.integers(0, vocab_size, (3, 13)))
    state = None
    for X, Y in ((tokens[:, :6], tokens[:, 1:7]), (tokens[:, 6:12], tokens[:, 7:13])):
        if state is None:
            state = net.begin_state(batch_size=X.shape[0], device=device)
        else:
            if isinstance(net, nn.Module) and not isinstance(state, tuple):
                state.detach_()
            else:
                for s in state:
                    s.detach_()
        y = Y.T.reshape(-1)
        y_hat, state = net(X, state)
        l = loss(y_hat, y.long()).mean()
        updater.zero_grad()
        l.backward()
        grad_clipping(net, 1)
        r.setdefault("grads", []).append([p.grad.clone() for p in net.parameters()])
        updater.step()
        r.setdefault("losses", []).append(l)
    r["params"] = [p.detach() for p in net.parameters()]
    r["state"] = state
    r["predict"] = predict_ch8([1, 4, 2], 6, net, device)
    return r


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm", "deep_lstm", "bi_gru"])
def test_d2l_concise_rnn_language_model_matches_torch(kind):
    z, t = run_both(concise_rnn_lm, kind)
    compare(z, t, rtol=1e-4, atol=1e-5)
