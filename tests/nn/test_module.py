"""nn.Module: registration, iteration, state_dict, modes, hooks, dtype, repr; containers."""
import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd import nn
from tests.oracle import assert_close


def _make_net_class(lib):
    backend = zg if lib is nn else torch

    class Net(lib.Module):
        def __init__(self):
            super().__init__()
            self.fc = lib.Linear(4, 3)
            self.act = lib.ReLU()
            self.out = lib.Linear(3, 2)
            self.register_buffer("steps", backend.zeros(1))
            self.register_buffer("cache", backend.ones(2), persistent=False)

        def forward(self, x):
            return self.out(self.act(self.fc(x)))

    return Net


_ZgNet, _TorchNet = _make_net_class(nn), _make_net_class(torch.nn)


def Net(lib=nn):
    return _ZgNet() if lib is nn else _TorchNet()


def test_attribute_routing_into_ordered_dicts():
    net = Net()
    assert list(net._parameters) == []
    assert list(net._modules) == ["fc", "act", "out"]
    assert list(net._buffers) == ["steps", "cache"]
    assert net.fc is net._modules["fc"] and net.steps is net._buffers["steps"]
    assert "fc" not in net.__dict__
    net.scale = nn.Parameter(zg.ones(1))
    assert "scale" in net._parameters and net.scale is net._parameters["scale"]
    net.plain = 3
    assert net.__dict__["plain"] == 3
    # re-assigning a buffer name keeps it a buffer; None is allowed
    net.steps = zg.ones(1)
    assert net._buffers["steps"].item() == 1.0
    net.steps = None
    assert "steps" in net._buffers and net.steps is None
    with pytest.raises(TypeError, match="as parameter 'scale'"):
        net.scale = nn.Linear(1, 1)  # torch refuses too: only a Parameter or None
    # assigning a module over a buffer moves it
    net.steps = nn.Linear(1, 1)
    assert "steps" not in net._buffers and "steps" in net._modules
    del net.steps, net.cache, net.plain, net.scale
    assert "steps" not in net._modules and "cache" not in net._buffers
    assert "scale" not in net._parameters
    assert "cache" not in net._non_persistent_buffers_set
    with pytest.raises(AttributeError, match="has no attribute 'missing'"):
        net.missing


def test_registration_errors():
    class Early(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)  # before super().__init__()

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()
    net = Net()
    with pytest.raises(TypeError, match="cannot assign .* as parameter 'weight'"):
        net.fc.weight = zg.ones(3, 4)
    with pytest.raises(TypeError, match="as child module 'fc'"):
        net.fc = 5
    with pytest.raises(KeyError, match="contain"):
        net.register_buffer("a.b", zg.ones(1))
    with pytest.raises(KeyError, match="already exists"):
        net.register_parameter("forward", nn.Parameter(zg.ones(1)))
    with pytest.raises(TypeError, match="buffer 'x'"):
        net.register_buffer("x", [1, 2])
    with pytest.raises(ValueError, match="non-leaf"):
        net.register_parameter("p", _non_leaf_parameter())


def _non_leaf_parameter():
    p = nn.Parameter(zg.ones(2))
    p.grad_fn = (zg.ones(2, requires_grad=True) * 2).grad_fn
    return p


def test_named_iterators_match_torch_and_dedupe_shared():
    def shared(lib):
        class Shared(lib.Module):
            def __init__(self):
                super().__init__()
                self.a = lib.Linear(2, 2)
                self.b = self.a  # the same module twice
                self.seq = lib.Sequential(lib.Linear(2, 3), lib.Tanh(), lib.Linear(3, 1))
        return Shared()

    z, t = shared(nn), shared(torch.nn)
    assert [n for n, _ in z.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in z.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in z.named_children()] == [n for n, _ in t.named_children()]
    assert [n for n, _ in z.named_parameters(remove_duplicate=False)] == \
        [n for n, _ in t.named_parameters(remove_duplicate=False)]
    assert len(list(z.parameters())) == 6
    assert list(z.state_dict()) == list(t.state_dict())  # state_dict keeps both names
    # a shared Parameter in two modules is yielded once
    z.seq[2].weight = nn.Parameter(zg.ones(1, 3))
    z.a.extra = z.seq[2].weight
    assert sum(p is z.seq[2].weight for p in z.parameters()) == 1
    assert [n for n, _ in z.named_buffers()] == []
    assert len(list(z.modules())) == len(list(t.modules()))
    assert list(z.children())[0] is z.a


def test_buffers_persistence_and_buffer_class():
    z, t = Net(nn), Net(torch.nn)
    assert [n for n, _ in z.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert list(z.state_dict()) == list(t.state_dict())
    assert "cache" not in z.state_dict()
    z.mask = nn.Buffer(zg.ones(3), persistent=False)
    z.count = nn.Buffer(zg.zeros(1))
    assert "mask" in z._buffers and "mask" not in z.state_dict()
    assert "count" in z.state_dict()
    assert isinstance(z.count, nn.Buffer) and not isinstance(zg.ones(1), nn.Buffer)


def test_state_dict_is_detached_and_shares_memory():
    net = Net()
    sd = net.state_dict()
    assert isinstance(sd, OrderedDict)
    assert not sd["fc.weight"].requires_grad
    assert sd["fc.weight"].grad_fn is None
    net.fc.weight.data.fill_(7.0)  # changes to the model are seen through the state_dict
    assert sd["fc.weight"].numpy()[0, 0] == 7.0
    kept = net.state_dict(keep_vars=True)
    assert kept["fc.weight"] is net.fc.weight


def test_load_state_dict_roundtrip_from_torch():
    z, t = Net(nn), Net(torch.nn)
    with torch.no_grad():
        t.steps.fill_(5)
    state = {k: zg.tensor(v.numpy()) for k, v in t.state_dict().items()}
    weight_before = z.fc.weight
    result = z.load_state_dict(state)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    assert z.fc.weight is weight_before  # copied in place: optimizers keep their references
    assert z.fc.weight.requires_grad and z.fc.weight.is_leaf
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    assert_close(z(zg.tensor(x)), t(torch.tensor(x)))
    assert z.steps.item() == 5.0


def test_load_state_dict_reports_missing_unexpected_and_size_mismatch():
    net = Net()
    sd = net.state_dict()
    bad = {k: v for k, v in sd.items() if k != "fc.bias"}
    bad["extra.weight"] = zg.ones(1)
    with pytest.raises(RuntimeError) as err:
        net.load_state_dict(bad)
    msg = str(err.value)
    assert msg.startswith("Error(s) in loading state_dict for Net:\n\t")
    assert 'Missing key(s) in state_dict: "fc.bias". ' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight". ' in msg
    assert msg.index("Missing") < msg.index("Unexpected")
    result = net.load_state_dict(bad, strict=False)
    assert result.missing_keys == ["fc.bias"] and result.unexpected_keys == ["extra.weight"]
    wrong = dict(sd)
    wrong["fc.weight"] = zg.ones(2, 4)
    with pytest.raises(RuntimeError, match=r"size mismatch for fc\.weight: copying a param "
                       r"with shape zerograd\.Size\(\[2, 4\]\) from checkpoint, the shape in "
                       r"current model is zerograd\.Size\(\[3, 4\]\)\."):
        net.load_state_dict(wrong, strict=False)
    wrong["fc.weight"] = np.ones((3, 4))
    with pytest.raises(RuntimeError, match="expected zerograd.Tensor"):
        net.load_state_dict(wrong)


def test_load_state_dict_casts_dtype_and_assign():
    net = Net()
    sd = {k: v.double() for k, v in net.state_dict().items()}
    net.load_state_dict(sd)
    assert net.fc.weight.dtype is zg.float32
    other = Net()
    other.load_state_dict(net.state_dict(), assign=True)
    assert other.fc.weight.data_ptr() == net.fc.weight.data_ptr()
    assert isinstance(other.fc.weight, nn.Parameter)


def test_train_eval_and_training_flag():
    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5), nn.Sequential(nn.Dropout(0.1)))
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="boolean"):
        net.train("no")


def test_zero_grad_requires_grad_and_apply():
    net = Net()
    net(zg.randn(3, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    assert net.requires_grad_(False) is net
    assert not any(p.requires_grad for p in net.parameters())
    net.requires_grad_()
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "ReLU", "Linear", "Net"]  # children first, like torch


def test_to_double_float_keep_parameter_identity():
    net = Net()
    net(zg.randn(2, 4)).sum().backward()
    w = net.fc.weight
    net.double()
    assert net.fc.weight is w and w.dtype is zg.float64 and w.grad.dtype is zg.float64
    assert net.steps.dtype is zg.float64
    assert net(zg.randn(2, 4, dtype=zg.float64)).dtype is zg.float64
    net.to(zg.float32)
    assert w.dtype is zg.float32
    net.to("cpu")
    net.to(device="cpu", dtype=zg.float64)
    assert w.dtype is zg.float64
    net.float()
    with pytest.raises(TypeError, match="floating point"):
        net.to(zg.int64)
    with pytest.raises(RuntimeError, match="not available"):
        net.to("cuda")


def test_forward_hooks_and_pre_hooks_with_removable_handles():
    lin = nn.Linear(2, 2)
    calls = []

    def pre(module, args):
        calls.append("pre")
        return (args[0] * 0,)

    def post(module, args, output):
        calls.append(("post", tuple(output.shape)))
        return output + 1

    h1 = lin.register_forward_pre_hook(pre)
    h2 = lin.register_forward_hook(post)
    out = lin(zg.randn(3, 2))
    assert calls == ["pre", ("post", (3, 2))]
    assert_close(out, (lin.bias + 1).expand(3, 2))
    h1.remove()
    h2.remove()
    x = zg.randn(3, 2)
    assert_close(lin(x), zg.nn.functional.linear(x, lin.weight, lin.bias))
    order = []
    lin.register_forward_hook(lambda m, a, o: order.append(1))
    lin.register_forward_hook(lambda m, a, o: order.append(0), prepend=True)
    with lin.register_forward_pre_hook(lambda m, a, k: (a, k), with_kwargs=True):
        lin(x)
    assert order == [0, 1]
    assert len(lin._forward_pre_hooks) == 0


def test_missing_forward_and_init_args():
    class NoForward(nn.Module):
        pass

    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        NoForward()(zg.ones(1))
    with pytest.raises(TypeError):
        nn.Module(3)


def _twin_models(lib):
    class Block(lib.Module):
        def __init__(self):
            super().__init__()
            self.net = lib.Sequential(lib.Linear(4, 8), lib.GELU(), lib.Dropout(0.1))
            self.emb = lib.Embedding(10, 4, padding_idx=0)

        def forward(self, x):
            return self.net(x)

    return lib.Sequential(OrderedDict([
        ("block", Block()),
        ("heads", lib.ModuleList([lib.Linear(8, 2) for _ in range(3)] + [lib.Tanh()])),
        ("table", lib.ModuleDict({"a": lib.LeakyReLU(0.2, inplace=True), "b": lib.Identity()})),
        ("flat", lib.Flatten()),
        ("unflat", lib.Unflatten(1, (2, 4))),
        ("loss", lib.CrossEntropyLoss()),
        ("soft", lib.Softmax(dim=1)),
    ]))


def _clean(text):
    return text.replace("torch.", "zerograd.")


def test_repr_matches_torch_for_nested_models():
    assert repr(_twin_models(nn)) == _clean(repr(_twin_models(torch.nn)))
    lists = [lambda lib: lib.ModuleList(), lambda lib: lib.Sequential(),
             lambda lib: lib.ParameterList([lib.Parameter(zgt(lib, 2, 3))]),
             lambda lib: lib.ParameterList([lib.Parameter(zgt(lib, 2)),
                                            lib.Parameter(zgt(lib, 3, 1))]),
             lambda lib: lib.Bilinear(2, 3, 4, bias=False),
             lambda lib: lib.Hardtanh(-2.0, 2.0, True), lambda lib: lib.ELU(0.5),
             lambda lib: lib.Softplus(2.0, 10.0), lambda lib: lib.Dropout2d(0.3),
             lambda lib: lib.GELU("tanh"), lambda lib: lib.Embedding(5, 2, max_norm=1.0)]
    for make in lists:
        assert repr(make(nn)) == _clean(repr(make(torch.nn)))


def zgt(lib, *shape):
    return zg.zeros(*shape) if lib is nn else torch.zeros(*shape)


def test_sequential_indexing_slicing_and_editing():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    net = nn.Sequential(*layers)
    assert net[0] is layers[0] and net[-1] is layers[2] and len(net) == 3
    assert list(net) == layers
    sub = net[1:]
    assert isinstance(sub, nn.Sequential) and list(sub) == layers[1:]
    assert list(sub._modules) == ["1", "2"]  # keys kept, as in torch
    with pytest.raises(IndexError, match="out of range"):
        net[3]
    net.append(nn.Sigmoid())
    assert len(net) == 4 and isinstance(net[3], nn.Sigmoid)
    net[3] = nn.Tanh()
    assert isinstance(net[3], nn.Tanh)
    del net[1]
    assert list(net._modules) == ["0", "1", "2"] and net[1] is layers[2]
    net.insert(1, nn.ReLU())
    assert isinstance(net[1], nn.ReLU) and len(net) == 4
    assert isinstance(net.pop(1), nn.ReLU)
    named = nn.Sequential(OrderedDict([("hidden", nn.Linear(2, 4)), ("act", nn.ReLU())]))
    assert named.hidden is named[0]
    assert tuple(named(zg.ones(5, 2)).shape) == (5, 4)
    both = net + named
    assert len(both) == len(net) + len(named)


def test_modulelist_moduledict_parameterlist_parameterdict():
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    ml.append(nn.ReLU())
    ml.extend([nn.Tanh()])
    ml.insert(0, nn.Sigmoid())
    assert len(ml) == 6 and isinstance(ml[0], nn.Sigmoid) and isinstance(ml[-1], nn.Tanh)
    assert len(list(ml.parameters())) == 6
    assert isinstance(ml[1:3], nn.ModuleList) and len(ml[1:3]) == 2
    del ml[0]
    assert isinstance(ml[0], nn.Linear)
    with pytest.raises(TypeError):
        ml.extend(nn.ReLU())
    md = nn.ModuleDict({"a": nn.Linear(1, 1)})
    md["b"] = nn.ReLU()
    md.update([("c", nn.Tanh())])
    assert list(md.keys()) == ["a", "b", "c"] and "b" in md and len(md) == 3
    assert isinstance(md.pop("b"), nn.ReLU) and list(md) == ["a", "c"]
    pl = nn.ParameterList([nn.Parameter(zg.ones(2)), zg.zeros(3)])
    pl.append(zg.ones(1))
    assert len(pl) == 3 and all(isinstance(p, nn.Parameter) for p in pl)
    assert [n for n, _ in pl.named_parameters()] == ["0", "1", "2"]
    pd = nn.ParameterDict({"w": zg.ones(2)})
    pd["b"] = nn.Parameter(zg.zeros(1))
    assert list(pd.keys()) == ["w", "b"] and isinstance(pd["w"], nn.Parameter)
    assert len(list(pd.parameters())) == 2

    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(3, 3) for _ in range(2)])
            self.scales = nn.ParameterList([nn.Parameter(zg.ones(3)) for _ in range(2)])

        def forward(self, x):
            for layer, s in zip(self.layers, self.scales):
                x = layer(x) * s
            return x

    h = Holder()
    assert list(h.state_dict()) == ["layers.0.weight", "layers.0.bias", "layers.1.weight",
                                    "layers.1.bias", "scales.0", "scales.1"]
    h(zg.randn(2, 3)).sum().backward()
    assert all(p.grad is not None for p in h.parameters())


def test_get_submodule_parameter_and_dir():
    net = _twin_models(nn)
    assert net.get_submodule("block.net.0") is net.block.net[0]
    assert net.get_parameter("block.net.0.bias") is net.block.net[0].bias
    with pytest.raises(AttributeError):
        net.get_submodule("block.nope")
    assert "block" in dir(net)


def test_deepcopy_and_pickle_keep_structure_and_sharing():
    net = Net()
    net.tied = net.fc  # shared submodule
    clone = copy.deepcopy(net)
    assert clone.tied is clone.fc and clone.fc is not net.fc
    assert_close(clone.fc.weight, net.fc.weight)
    assert clone.fc.weight.requires_grad
    seq = nn.Sequential(net.fc, nn.ReLU(), net.out)
    seq.register_buffer("steps", zg.zeros(1))
    back = pickle.loads(pickle.dumps(seq))
    x = zg.randn(2, 4)
    assert_close(back(x), seq(x))
    assert isinstance(back[0].weight, nn.Parameter) and back[0].weight.requires_grad
    assert list(back.state_dict()) == list(seq.state_dict())


def test_deleting_from_sequential_and_modulelist_renumbers_like_torch():
    import torch
    import zerograd as zg
    for lib in (zg, torch):
        seq = lib.nn.Sequential(*[lib.nn.Linear(i + 1, i + 2) for i in range(5)])
        del seq[1]
        del seq[-1]
        del seq[0:1]
        mods = lib.nn.ModuleList([lib.nn.ReLU(), lib.nn.Tanh(), lib.nn.Sigmoid()])
        del mods[0]
        result = ([k for k, _ in seq.named_children()], [m.in_features for m in seq],
                  [k for k, _ in mods.named_children()], [type(m).__name__ for m in mods])
        if lib is zg:
            expected = result
    assert expected == result
