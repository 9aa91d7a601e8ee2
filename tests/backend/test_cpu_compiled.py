"""The optional compiled CPU kernels (``zerograd.backend.cpu.compiled``, numba): batch norm,
2x2 pooling, sigmoid, a convolution's stride-1 col2im and the fused SGD/Adam updates through
them equal the NumPy path and torch, forward and backward, repeat bit for bit at 1 and 2
threads, and are used exactly where their ``..._applies`` says.

The suite runs the NumPy path everywhere else (``tests/conftest.py`` switches these off);
here the ``compiled_on`` fixture switches them on for one test."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import zerograd as zg
from tests.oracle import assert_close, check, check_like_torch, check_module, copy_params
from tests.optim._problems import assert_params_close
from tests.optim.test_optimizers import CONFIGS as OPTIM_CONFIGS
from zerograd.backend.cpu import compiled
from zerograd.ops.normalization import BatchNorm

pytest.importorskip("numba")

RNG = np.random.default_rng(0)
F, TF = zg.nn.functional, torch.nn.functional


@pytest.fixture
def compiled_on():
    before = compiled.enable(True)
    assert compiled.enabled()
    yield
    compiled.enable(before)


def _randn(*shape, dtype=np.float32, loc=0.0, scale=1.0):
    return (RNG.standard_normal(shape) * scale + loc).astype(dtype)


def _spy(monkeypatch, *names):
    """The list that records, in order, each call of ``compiled``'s functions ``names``."""
    calls = []
    for name in names:
        real = getattr(compiled, name)
        monkeypatch.setattr(compiled, name, lambda *a, real=real, name=name, **k:
                            calls.append(name) or real(*a, **k))
    return calls


def _both_paths(fn):
    """fn() with the compiled kernels, then with the NumPy ones."""
    before = compiled.enable(True)
    try:
        fast = fn()
        compiled.enable(False)
        slow = fn()
    finally:
        compiled.enable(before)
    return fast, slow


@pytest.mark.parametrize("shape", [(4, 3, 5, 6), (3, 2, 17), (2, 3, 2, 4, 3), (5, 1, 40)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_matches_torch(compiled_on, shape, affine):
    x = _randn(*shape, loc=2.0, scale=3.0)
    params = [_randn(shape[1]), _randn(shape[1])] if affine else []
    assert compiled.batch_norm_applies(x.reshape(shape[0], shape[1], -1))
    check(lambda x, *p: F.batch_norm(x, None, None, *p, training=True),
          lambda x, *p: TF.batch_norm(x, None, None, *p, training=True), x, *params,
          rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kwargs", [{}, dict(affine=False), dict(bias=False),
                                    dict(momentum=None, eps=1e-3)])
def test_batch_norm_layer_trains_like_torch(compiled_on, kwargs):
    z, t = zg.nn.BatchNorm2d(4, **kwargs), torch.nn.BatchNorm2d(4, **kwargs)
    if t.weight is not None:
        t.weight.data.uniform_(0.5, 1.5)
    copy_params(z, t)
    for step in range(3):  # the running statistics follow torch's step by step
        check_module(z, t, _randn(6, 4, 5, 7, loc=step, scale=step + 1), copy=False,
                     seed=step, rtol=1e-4, atol=1e-4)
    z.eval()
    t.eval()
    check_module(z, t, _randn(6, 4, 5, 7), copy=False, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("need_x", [True, False])
def test_float64_equals_the_numpy_path(need_x):
    x = _randn(8, 5, 6, 7, dtype=np.float64, loc=-4.0, scale=2.0)
    w, b = _randn(5, dtype=np.float64), _randn(5, dtype=np.float64)
    gy = _randn(8, 5, 6, 7, dtype=np.float64)

    def run():
        zx = zg.tensor(x, requires_grad=need_x)
        zw, zb = zg.tensor(w, requires_grad=True), zg.tensor(b, requires_grad=True)
        y = F.batch_norm(zx, None, None, zw, zb, training=True)
        y.backward(zg.tensor(gy))
        return [y.detach().numpy()] + [t.grad.numpy() for t in (zx, zw, zb)
                                       if t.grad is not None]
    fast, slow = _both_paths(run)
    assert len(fast) == len(slow) == (4 if need_x else 3)
    for a, b_ in zip(fast, slow):
        np.testing.assert_allclose(a, b_, rtol=1e-12, atol=1e-12)


def test_float32_statistics_of_an_offset_input_stay_accurate(compiled_on):
    # a large mean over a small spread: sums of (x - mean), not of x, keep the variance
    x = _randn(16, 3, 30, 30, loc=1000.0, scale=0.01)
    y, mean, var = BatchNorm.apply(zg.tensor(x), None, None, 1e-5)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(mean.numpy(), x64.mean((0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(var.numpy(), x64.var((0, 2, 3)), rtol=1e-3)
    mean64, var64 = x64.mean((0, 2, 3), keepdims=True), x64.var((0, 2, 3), keepdims=True)
    np.testing.assert_allclose(y.numpy(), (x64 - mean64) / np.sqrt(var64 + 1e-5), atol=1e-2)


def test_same_bits_at_one_and_two_threads(compiled_on, restore_threads):
    x = _randn(32, 6, 20, 20, loc=1.0)
    gy = _randn(32, 6, 20, 20)

    def run():
        zx = zg.tensor(x, requires_grad=True)
        bn = zg.nn.BatchNorm2d(6)
        y = bn(zx)
        y.backward(zg.tensor(gy))
        return [y.detach().numpy(), zx.grad.numpy(), bn.weight.grad.numpy(),
                bn.bias.grad.numpy(), bn.running_var.numpy()]
    zg.set_num_threads(1)
    one = run()
    zg.set_num_threads(2)
    two, again = run(), run()
    for a, b, c in zip(one, two, again):
        assert np.array_equal(a, b) and np.array_equal(b, c)


@pytest.mark.parametrize("x3, applies", [
    (np.zeros((4, 3, 16), np.float32), True),
    (np.zeros((4, 3, 16), np.float64), True),
    (np.zeros((4, 3, 15), np.float32), False),  # short rows: BatchNorm1d on (N, C)
    (np.zeros((4, 3, 32), np.float32)[:, :, ::2], False),  # not contiguous
    (np.zeros((4, 3, 16), np.float16), False),
    (np.zeros((0, 3, 16), np.float32), False),
])
def test_applies(compiled_on, x3, applies):
    assert compiled.batch_norm_applies(x3) is applies


def test_used_only_where_it_applies(compiled_on, monkeypatch):
    calls = _spy(monkeypatch, "batch_norm_forward")
    zg.nn.BatchNorm2d(3)(zg.tensor(_randn(2, 3, 4, 4)))  # rows of 16: compiled
    zg.nn.BatchNorm1d(3)(zg.tensor(_randn(5, 3)))  # rows of 1: the NumPy path
    compiled.enable(False)
    zg.nn.BatchNorm2d(3)(zg.tensor(_randn(2, 3, 4, 4)))  # switched off
    assert calls == ["batch_norm_forward"]


def test_enable_returns_the_previous_setting():
    before = compiled.enable(False)
    try:
        assert compiled.enable(True) is False
        assert compiled.enabled()
        assert compiled.enable(False) is True
        assert not compiled.enabled()
    finally:
        compiled.enable(before)


@pytest.mark.parametrize("value, expected", [("0", "False"), ("1", "True")])
def test_environment_variable_switches_them_off(value, expected):
    code = "from zerograd.backend.cpu import compiled; print(compiled.enabled())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=dict(os.environ, ZEROGRAD_NUMBA=value), check=True)
    assert out.stdout.strip() == expected


def test_conv_stack_trains_like_torch(compiled_on):
    # conv -> batch norm -> ReLU, three SGD steps: the parameters follow torch's
    def model(nn):
        return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8),
                             nn.ReLU(), nn.Flatten(), nn.Linear(8 * 10 * 10, 3))
    torch.manual_seed(0)
    t_model, z_model = model(torch.nn), model(zg.nn)
    copy_params(z_model, t_model)
    t_opt = torch.optim.SGD(t_model.parameters(), lr=0.1)
    z_opt = zg.optim.SGD(z_model.parameters(), lr=0.1)
    for step in range(3):
        x, y = _randn(16, 1, 10, 10), RNG.integers(0, 3, 16)
        for lib, m, opt in ((torch, t_model, t_opt), (zg, z_model, z_opt)):
            opt.zero_grad()
            lib.nn.functional.cross_entropy(m(lib.tensor(x)), lib.tensor(y)).backward()
            opt.step()
    for (name, zp), tp in zip(z_model.named_parameters(), t_model.parameters()):
        assert_close(zp, tp, rtol=1e-4, atol=1e-5, what=name)


# -- 2x2 average pooling ----------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [{}, dict(divisor_override=3), dict(stride=2),
                                    dict(count_include_pad=False)])
@pytest.mark.parametrize("shape", [(4, 3, 6, 8), (2, 1, 2, 2), (3, 5, 10, 4)])
def test_avg_pool_2x2_matches_torch(compiled_on, kwargs, shape):
    check(lambda x: F.avg_pool2d(x, 2, **kwargs), lambda x: TF.avg_pool2d(x, 2, **kwargs),
          _randn(*shape))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_avg_pool_2x2_same_bits_as_the_numpy_path(dtype, restore_threads):
    x, gy = _randn(16, 6, 12, 14, dtype=dtype), _randn(16, 6, 6, 7, dtype=dtype)

    def run():
        zx = zg.tensor(x, requires_grad=True)
        y = F.avg_pool2d(zx, 2)
        y.backward(zg.tensor(gy))
        return y.detach().numpy(), zx.grad.numpy()
    for threads in (1, 2):
        zg.set_num_threads(threads)
        fast, slow = _both_paths(run)
        for a, b in zip(fast, slow):
            assert a.dtype == dtype and np.array_equal(a, b)


def test_avg_pool_2x2_double_backward(compiled_on):
    # the backward is an op of its own (the adjoint), differentiable again
    from zerograd.autograd import gradcheck, gradgradcheck
    x = zg.tensor(_randn(2, 3, 4, 6, dtype=np.float64), requires_grad=True)
    assert gradcheck(lambda x: F.avg_pool2d(x, 2), (x,))
    assert gradgradcheck(lambda x: F.avg_pool2d(x, 2), (x,))


@pytest.mark.parametrize("args, kwargs, shape, applies", [
    ((2,), {}, (2, 3, 6, 8), True),
    ((2,), dict(divisor_override=5), (2, 3, 6, 8), True),
    ((2,), {}, (2, 3, 7, 8), False),  # odd height: the last row is in no window
    ((2,), dict(ceil_mode=True), (2, 3, 7, 8), False),
    ((2,), dict(padding=1), (2, 3, 6, 8), False),
    ((2, 1), {}, (2, 3, 6, 8), False),  # overlapping windows
    ((3,), {}, (2, 3, 6, 9), False),
    ((2,), {}, (2, 3, 6, 8, "int"), False),
    # an input that is not C-contiguous: the NumPy forward; its gradient is
    ((2,), {}, (2, 3, 6, 8, "transposed"), ["avg_pool_2x2_grad"]),
])
def test_avg_pool_uses_the_kernel_exactly_where_it_applies(compiled_on, monkeypatch, args,
                                                           kwargs, shape, applies):
    calls = _spy(monkeypatch, "avg_pool_2x2", "avg_pool_2x2_grad")
    kind = shape[4] if len(shape) > 4 else None
    x = _randn(*shape[:4])
    if kind == "int":
        x = (x * 10).astype(np.int64)
    if kind == "transposed":
        x = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    zx = zg.tensor(x, requires_grad=kind != "int")
    tx = torch.tensor(x)
    z_out = F.avg_pool2d(zx, *args, **kwargs)
    assert_close(z_out, TF.avg_pool2d(tx, *args, **kwargs))
    if kind != "int":
        z_out.backward(zg.tensor(_randn(*z_out.shape)))
    if isinstance(applies, bool):
        applies = ["avg_pool_2x2", "avg_pool_2x2_grad"] if applies else []
    assert calls == applies


# -- 2x2 max pooling --------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 3, 6, 8), (2, 1, 2, 2), (3, 5, 10, 4)])
def test_max_pool_2x2_matches_torch(compiled_on, shape):
    check(lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), _randn(*shape))
    x = _randn(*shape)
    z_val, z_idx = F.max_pool2d(zg.tensor(x), 2, return_indices=True)
    t_val, t_idx = TF.max_pool2d(torch.tensor(x), 2, return_indices=True)
    assert_close(z_val, t_val)
    assert np.array_equal(z_idx.numpy(), t_idx.numpy())


def test_max_pool_2x2_ties_nan_and_infinities_like_torch(compiled_on):
    nan, inf = np.nan, np.inf
    # windows: a tie (the first maximum wins), NaNs (the last NaN wins), all -inf, +inf
    x = np.array([[[[1, 1, nan, 2, -inf, -inf, 5, inf],
                    [0, 1, 3, nan, -inf, -inf, inf, 5]]]], dtype=np.float32)
    zx, tx = zg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    z_val, z_idx = F.max_pool2d(zx, 2, return_indices=True)
    t_val, t_idx = TF.max_pool2d(tx, 2, return_indices=True)
    np.testing.assert_array_equal(z_val.detach().numpy(), t_val.detach().numpy())
    np.testing.assert_array_equal(z_idx.numpy(), t_idx.numpy())
    gy = _randn(1, 1, 1, 4)
    z_val.backward(zg.tensor(gy))
    t_val.backward(torch.tensor(gy))
    np.testing.assert_array_equal(zx.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_2x2_same_bits_as_the_numpy_path(dtype, restore_threads):
    x, gy = _randn(16, 6, 12, 14, dtype=dtype), _randn(16, 6, 6, 7, dtype=dtype)
    x[0, 0, :2, :2] = 0.5  # a tie
    x[1, 2, 4:6, 6:8] = np.nan

    def run():
        zx = zg.tensor(x, requires_grad=True)
        y, idx = F.max_pool2d(zx, 2, return_indices=True)
        y.backward(zg.tensor(gy))
        return y.detach().numpy(), idx.numpy(), zx.grad.numpy()
    for threads in (1, 2):
        zg.set_num_threads(threads)
        fast, slow = _both_paths(run)
        for a, b in zip(fast, slow):
            np.testing.assert_array_equal(a, b)


def test_max_pool_2x2_double_backward(compiled_on):
    from zerograd.autograd import gradcheck, gradgradcheck
    x = zg.tensor(RNG.permutation(96).reshape(2, 2, 4, 6).astype(np.float64) / 7,
                  requires_grad=True)  # distinct values: the maximum is differentiable
    assert gradcheck(lambda x: F.max_pool2d(x, 2), (x,))
    assert gradgradcheck(lambda x: F.max_pool2d(x, 2), (x,))


@pytest.mark.parametrize("args, kwargs, shape, applies", [
    ((2,), {}, (2, 3, 6, 8), True),
    ((2, 2), {}, (2, 3, 6, 8), True),
    ((2,), {}, (2, 3, 7, 8), False),  # odd height: the last row is in no window
    ((2,), dict(ceil_mode=True), (2, 3, 7, 8), False),
    ((2,), dict(padding=1), (2, 3, 6, 8), False),
    ((2,), dict(dilation=2), (2, 3, 6, 8), False),
    ((2, 1), {}, (2, 3, 6, 8), False),  # overlapping windows
    ((3,), {}, (2, 3, 6, 9), False),
    ((2,), {}, (2, 3, 6, 8, "int"), False),
])
def test_max_pool_uses_the_kernel_exactly_where_it_applies(compiled_on, monkeypatch, args,
                                                           kwargs, shape, applies):
    calls = _spy(monkeypatch, "max_pool_2x2", "max_pool_2x2_grad")
    x = _randn(*shape[:4])
    integer = len(shape) > 4
    if integer:
        x = (x * 10).astype(np.int64)
    zx = zg.tensor(x, requires_grad=not integer)
    z_out = F.max_pool2d(zx, *args, **kwargs)
    assert_close(z_out, TF.max_pool2d(torch.tensor(x), *args, **kwargs))
    if not integer:
        z_out.backward(zg.tensor(_randn(*z_out.shape)))
    assert calls == (["max_pool_2x2", "max_pool_2x2_grad"] if applies else [])


# -- sigmoid ----------------------------------------------------------------------------------
def _ulps(a, b):
    """Units in the last place between float32 arrays (one sign: the outputs are >= 0)."""
    return np.abs(a.view(np.int32).astype(np.int64) - b.view(np.int32))


@pytest.mark.parametrize("shape", [(4, 8, 16, 16), (5000,), (3, 1, 2, 2000)])
@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_sigmoid_matches_torch(compiled_on, shape, scale):
    x = _randn(*shape, scale=scale)
    assert compiled.sigmoid_applies(x)
    check(F.sigmoid, torch.sigmoid, x)


def test_sigmoid_within_4_ulp_of_torch_everywhere(compiled_on):
    # every float32 from -100 to 100 in steps of 1e-4: the polynomial exp across its
    # whole range, the overflow at x = -88.72 and the saturation at 1
    x = np.linspace(-100, 100, 2_000_001, dtype=np.float32)
    z, t = zg.sigmoid(zg.tensor(x)).numpy(), torch.sigmoid(torch.tensor(x)).numpy()
    normal = t >= np.finfo(np.float32).tiny
    assert _ulps(z, t)[normal].max() <= 4
    np.testing.assert_array_equal(z[t == 0], 0)  # where exp(-x) overflows: 0, as torch
    np.testing.assert_array_equal(z[t == 1], 1)
    assert np.abs(z - t)[~normal].max() < 1e-38  # subnormal outputs, x in (-88.72, -87.3)


def test_sigmoid_special_values_like_torch(compiled_on):
    x = np.zeros(compiled.MIN_POINTWISE, np.float32)
    special = [np.inf, -np.inf, np.nan, -np.nan, 0.0, -0.0, -88.7, -88.73, -90, 17, 100,
               np.finfo(np.float32).max, -np.finfo(np.float32).max, 1e-30, -1e-30]
    x[:len(special)] = special
    assert compiled.sigmoid_applies(x)
    z = zg.sigmoid(zg.tensor(x)).numpy()[:len(special)]
    t = torch.sigmoid(torch.tensor(x)).numpy()[:len(special)]
    np.testing.assert_array_equal(np.isnan(z), np.isnan(t))
    ok = ~np.isnan(t)
    assert _ulps(z[ok], t[ok]).max() <= 4, (z, t)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_gradient_same_bits_as_the_numpy_path(dtype, restore_threads, monkeypatch):
    # both runs take NumPy's sigmoid forward: the gradients then see the same output
    monkeypatch.setattr(compiled, "sigmoid_applies", lambda x: False)
    x, gy = _randn(16, 6, 12, 14, scale=3, dtype=dtype), _randn(16, 6, 12, 14, dtype=dtype)
    y = (1 / (1 + np.exp(-x))).astype(dtype)

    def run():
        zx = zg.tensor(x, requires_grad=True)
        zg.sigmoid(zx).backward(zg.tensor(gy))
        return zx.grad.numpy()
    assert _both_paths(lambda: compiled.sigmoid_grad_applies(y, gy)) == (True, False)
    for threads in (1, 2):
        zg.set_num_threads(threads)
        fast, slow = _both_paths(run)
        assert fast.dtype == dtype and np.array_equal(fast, slow)


def test_sigmoid_same_bits_at_one_and_two_threads(compiled_on, restore_threads, monkeypatch):
    monkeypatch.setattr(compiled.threads, "MIN_WORK", 1024)  # split even this array
    x = _randn(8, 6, 20, 20, scale=5)
    zg.set_num_threads(1)
    one = zg.sigmoid(zg.tensor(x)).numpy()
    zg.set_num_threads(2)
    assert compiled.threads.threads_for(x.size, x.size // compiled._POINTWISE_SPLIT) == 2
    np.testing.assert_array_equal(zg.sigmoid(zg.tensor(x)).numpy(), one)


@pytest.mark.parametrize("case, expected", [
    ("float32", ["sigmoid", "sigmoid_grad"]),
    ("float64", ["sigmoid_grad"]),  # NumPy's exp forward, the compiled gradient
    ("small", []),  # under MIN_POINTWISE elements
    ("transposed", ["sigmoid_grad"]),  # a strided input: the NumPy forward
    ("int", ["sigmoid"]),  # computed in float32: the kernel
    ("create_graph", ["sigmoid"]),  # a differentiable backward: graph ops, no kernel
])
def test_sigmoid_uses_the_kernels_exactly_where_they_apply(compiled_on, monkeypatch, case,
                                                           expected):
    calls = _spy(monkeypatch, "sigmoid", "sigmoid_grad")
    x = {"float32": _randn(8, 3, 20, 20), "float64": _randn(8, 3, 20, 20, dtype=np.float64),
         "small": _randn(4095), "transposed": _randn(20, 20, 8, 3).transpose(2, 3, 0, 1),
         "int": (_randn(80, 60) * 9).astype(np.int64),
         "create_graph": _randn(8, 3, 20, 20)}[case]
    grad = case != "int"
    zx, tx = zg.tensor(x, requires_grad=grad), torch.tensor(x, requires_grad=grad)
    z_out, t_out = zg.sigmoid(zx), torch.sigmoid(tx)
    assert_close(z_out, t_out)
    if grad:
        gy = _randn(*x.shape, dtype=x.dtype)
        (z_g,) = zg.autograd.grad(z_out, zx, zg.tensor(gy), create_graph=case == "create_graph")
        (t_g,) = torch.autograd.grad(t_out, tx, torch.tensor(gy))
        assert_close(z_g, t_g)
    assert calls == expected


def test_a_gradient_still_needed_elsewhere_is_not_overwritten(compiled_on):
    # the incoming gradient is written into only when nobody else holds it
    x = _randn(8, 3, 20, 20)
    w = _randn(8, 3, 20, 20)
    zx, tx = zg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    z_y, t_y = zg.sigmoid(zx), torch.sigmoid(tx)
    z_y.retain_grad()
    t_y.retain_grad()
    (z_y * zg.tensor(w)).sum().backward()
    (t_y * torch.tensor(w)).sum().backward()
    assert_close(z_y.grad, t_y.grad, what="the retained output gradient")
    assert_close(zx.grad, tx.grad, what="the input gradient")
    zs = zg.tensor(x, requires_grad=True)
    z_y = zg.sigmoid(zs)
    both = z_y * 2 + zg.tanh(z_y)  # the output feeds two ops
    ts = torch.tensor(x, requires_grad=True)
    t_y = torch.sigmoid(ts)
    (both * zg.tensor(w)).sum().backward()
    ((t_y * 2 + torch.tanh(t_y)) * torch.tensor(w)).sum().backward()
    assert_close(zs.grad, ts.grad)


def test_sigmoid_double_backward(compiled_on):
    from zerograd.autograd import gradcheck, gradgradcheck
    x = zg.tensor(_randn(8, 3, 16, 16, dtype=np.float64, scale=3), requires_grad=True)
    assert compiled.sigmoid_grad_applies(x.detach().numpy(), x.detach().numpy())
    assert gradcheck(zg.sigmoid, (x,))
    assert gradgradcheck(zg.sigmoid, (x,))


@given(n=st.integers(4096, 20000), scale=st.sampled_from([0.1, 1.0, 10.0, 100.0]),
       seed=st.integers(0, 2 ** 16))
def test_sigmoid_any_length_matches_torch(n, scale, seed):
    before = compiled.enable(True)
    try:
        x = (np.random.default_rng(seed).standard_normal(n) * scale).astype(np.float32)
        check(F.sigmoid, torch.sigmoid, x, seed=seed)
    finally:
        compiled.enable(before)


# -- col2im of a convolution's input gradient -------------------------------------------------
_COL2IM_CASES = [  # (x, w, conv2d keywords): stride 1, fewer than 16 input channels
    ((3, 6, 14, 14), (16, 6, 5, 5), {}),  # d2l LeNet's second conv
    ((2, 1, 12, 12), (6, 1, 5, 5), dict(padding=2)),
    ((2, 3, 9, 8), (4, 3, 3, 2), dict(padding=(1, 0), dilation=(2, 1))),
    ((2, 4, 7, 7), (6, 2, 3, 3), dict(padding=1, groups=2)),
    ((2, 3, 6, 6), (5, 3, 4, 4), dict(padding="same")),  # one more row below than above
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's note on its own copy
@pytest.mark.parametrize("xs, ws, kwargs", _COL2IM_CASES)
def test_conv_input_gradient_through_col2im_matches_torch(compiled_on, monkeypatch, xs, ws,
                                                          kwargs):
    calls = _spy(monkeypatch, "col2im_wide")
    check(lambda x, w: F.conv2d(x, w, **kwargs), lambda x, w: TF.conv2d(x, w, **kwargs),
          _randn(*xs), _randn(*ws), rtol=1e-4, atol=1e-4)
    assert calls and set(calls) == {"col2im_wide"}


@pytest.mark.parametrize("xs, ws, kwargs", _COL2IM_CASES)
def test_col2im_float64_equals_the_numpy_path(xs, ws, kwargs):
    x, w = _randn(*xs, dtype=np.float64), _randn(*ws, dtype=np.float64)

    def run():
        zx, zw = zg.tensor(x, requires_grad=True), zg.tensor(w)
        y = F.conv2d(zx, zw, **kwargs)
        y.backward(zg.tensor(np.cos(np.arange(y.numel())).reshape(y.shape)))
        return zx.grad.numpy()
    fast, slow = _both_paths(run)
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12)


def test_conv_transpose_bias_through_col2im_matches_torch(compiled_on, monkeypatch):
    # a transposed conv's forward is the col2im, with the bias added as it lays out NCHW
    calls = _spy(monkeypatch, "col2im_wide")
    check(lambda x, w, b: F.conv_transpose2d(x, w, b, padding=1),
          lambda x, w, b: TF.conv_transpose2d(x, w, b, padding=1),
          _randn(2, 6, 5, 7), _randn(6, 3, 3, 3), _randn(3), rtol=1e-4, atol=1e-4)
    assert "col2im_wide" in calls


@pytest.mark.parametrize("kwargs, in_channels", [(dict(stride=2), 3), ({}, 16)])
def test_col2im_kernel_not_used_off_its_path(compiled_on, monkeypatch, kwargs, in_channels):
    # stride 2: the strided col2im; 16 input channels: the flipped-kernel GEMM, no col2im
    calls = _spy(monkeypatch, "col2im_wide")
    check(lambda x, w: F.conv2d(x, w, **kwargs), lambda x, w: TF.conv2d(x, w, **kwargs),
          _randn(2, in_channels, 9, 9), _randn(4, in_channels, 3, 3), rtol=1e-4, atol=1e-4)
    assert calls == []


def test_col2im_same_bits_at_one_and_two_threads(compiled_on, restore_threads, monkeypatch):
    monkeypatch.setattr(compiled.threads, "MIN_WORK", 256)  # split even this batch
    x, w = _randn(16, 6, 14, 14), _randn(16, 6, 5, 5)
    gy = _randn(16, 16, 10, 10)

    def run():
        zx = zg.tensor(x, requires_grad=True)
        F.conv2d(zx, zg.tensor(w)).backward(zg.tensor(gy))
        return zx.grad.numpy()
    zg.set_num_threads(1)
    one = run()
    zg.set_num_threads(2)
    np.testing.assert_array_equal(run(), one)
    np.testing.assert_array_equal(run(), one)


def test_col2im_double_backward(compiled_on):
    from zerograd.autograd import gradcheck, gradgradcheck
    x = zg.tensor(_randn(2, 3, 6, 6, dtype=np.float64), requires_grad=True)
    w = zg.tensor(_randn(4, 3, 3, 3, dtype=np.float64), requires_grad=True)
    assert gradcheck(lambda x, w: F.conv2d(x, w, padding=1), (x, w))
    assert gradgradcheck(lambda x, w: F.conv2d(x, w, padding=1), (x, w))


@given(n=st.integers(1, 3), c=st.integers(1, 4), o=st.integers(1, 4), h=st.integers(3, 9),
       w=st.integers(3, 9), k=st.integers(1, 3), pad=st.integers(0, 2),
       seed=st.integers(0, 2 ** 16))
def test_col2im_any_shape_matches_torch(n, c, o, h, w, k, pad, seed):
    before = compiled.enable(True)
    try:
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((n, c, h, w)).astype(np.float32)
        wt = rng.standard_normal((o, c, k, k)).astype(np.float32)
        check(lambda x, wt: F.conv2d(x, wt, padding=pad),
              lambda x, wt: TF.conv2d(x, wt, padding=pad), x, wt, seed=seed,
              rtol=1e-4, atol=1e-4)
    finally:
        compiled.enable(before)


# -- fused optimizer updates (``optim_kernels``: SGD, Adam, AdamW in one pass) ---------------
# the torch-checked configurations of tests/optim that the fused updates cover
UPDATE_CONFIGS = {name: build for name, build in OPTIM_CONFIGS.items()
                  if name.startswith(("sgd", "adam_", "adamw")) or name == "adam"}
# all but the last parameter are larger than plain SGD's direct path (64K elements), so
# every update of them goes through ``_apply_update``; the last one is under MIN_POINTWISE:
# the NumPy passes
UPDATE_SHAPES = [(300, 250), (70000,), (400, 180), (40, 30)]


def _train_with_grads(lib, build, shapes, dtype=np.float32, steps=3, seed=3, transpose=False):
    """Parameters of ``shapes`` stepped ``steps`` times by ``build``'s optimizer on fixed
    random gradients (``transpose``: the first one's gradient a transposed view); returns
    the parameters and, for zerograd, the optimizer's state, as arrays."""
    rng = np.random.default_rng(seed)
    params = [lib.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True)
              for s in shapes]
    opt, _ = build(lib, params)
    for _ in range(steps):
        for i, (p, s) in enumerate(zip(params, shapes)):
            g = rng.standard_normal(s[::-1] if transpose and i == 0 else s).astype(dtype)
            p.grad = lib.tensor(g.T if transpose and i == 0 else g)
        opt.step()
    state = [] if lib is torch else [v._data.copy() for p in params
                                     for v in opt.state[p].values() if v.ndim]
    return [p.detach().numpy().copy() for p in params], state


@pytest.mark.parametrize("name", sorted(UPDATE_CONFIGS))
def test_fused_updates_follow_torch(compiled_on, monkeypatch, name):
    calls = _spy(monkeypatch, "sgd_update", "adam_update")
    z, _ = _train_with_grads(zg, UPDATE_CONFIGS[name], UPDATE_SHAPES)
    t, _ = _train_with_grads(torch, UPDATE_CONFIGS[name], UPDATE_SHAPES)
    assert_params_close(z, t, rtol=1e-5, atol=1e-6, what=name)
    # every parameter but the small one, at each of the 3 steps; plain SGD stays NumPy's
    assert len(calls) == (0 if name == "sgd" else 3 * 3)


@pytest.mark.parametrize("name", sorted(UPDATE_CONFIGS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_updates_same_bits_as_the_numpy_path(name, dtype):
    (fast, fast_state), (slow, slow_state) = _both_paths(
        lambda: _train_with_grads(zg, UPDATE_CONFIGS[name], UPDATE_SHAPES, dtype))
    for a, b in zip(fast + fast_state, slow + slow_state):
        np.testing.assert_array_equal(a, b)
    assert len(fast_state) == len(slow_state)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_updates_nan_and_inf_like_the_numpy_path(compiled_on, dtype):
    # the update functions themselves on states holding NaN and inf (a loaded state can):
    # np.maximum's NaN wins in amsgrad's running maximum, on either side
    from zerograd.optim.adam import _adam_update
    from zerograd.optim.sgd import _sgd_update
    n = 4096
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30, 1e-30, 1.0], dtype)
    rng = np.random.default_rng(7)
    arrays = [rng.choice(special, n).astype(dtype) for _ in range(5)]
    arrays[3], arrays[4] = np.abs(arrays[3]), np.abs(arrays[4])  # the squares' averages

    def both(numpy_update, fused, states, **options):
        """``states``: which of the arrays are passed (None: an absent state)."""
        slow = [None if i is None else arrays[i].copy() for i in states]
        fast = [None if i is None else arrays[i].copy() for i in states]
        numpy_update(*slow, [np.empty(n, dtype), np.empty(n, dtype)], xp=np, **options)
        fused(*fast, **options)
        for a, b in zip(fast, slow):
            if a is not None:
                np.testing.assert_array_equal(a, b)

    both(_adam_update, compiled.adam_update, range(5), step=3.0, beta1=0.9, beta2=0.999,
         lr=0.1, weight_decay=0.1, eps=1e-8, maximize=False, decoupled_weight_decay=False)
    both(_adam_update, compiled.adam_update, [0, 1, 2, 3, None], step=1.0, beta1=0.7,
         beta2=0.9, lr=0.1, weight_decay=0.1, eps=1e-8, maximize=True,
         decoupled_weight_decay=True)
    both(_sgd_update, compiled.sgd_update, range(3), first=False, lr=0.1, momentum=0.9,
         dampening=0.1, weight_decay=0.01, nesterov=False, maximize=True)


@pytest.mark.parametrize("case", ["small", "strided grad", "kernels off", "plain sgd"])
def test_fused_updates_only_where_they_apply(compiled_on, monkeypatch, case):
    calls = _spy(monkeypatch, "sgd_update", "adam_update")
    if case == "kernels off":
        compiled.enable(False)
    shapes = [(40, 30)] if case == "small" else [(300, 250)]
    for name in ("sgd",) if case == "plain sgd" else ("sgd_momentum", "adam"):
        z, _ = _train_with_grads(zg, UPDATE_CONFIGS[name], shapes,
                                 transpose=case == "strided grad")
        t, _ = _train_with_grads(torch, UPDATE_CONFIGS[name], shapes,
                                 transpose=case == "strided grad")
        assert_params_close(z, t, rtol=1e-5, atol=1e-6, what=name)
    assert calls == []


def test_fused_updates_same_bits_at_one_and_two_threads(compiled_on, restore_threads,
                                                        monkeypatch):
    monkeypatch.setattr(compiled.threads, "MIN_WORK", 1024)  # split even these arrays
    calls = _spy(monkeypatch, "sgd_update", "adam_update")
    runs = []
    for n in (1, 2):
        zg.set_num_threads(n)
        runs.append([_train_with_grads(zg, UPDATE_CONFIGS[name], [(300, 250)])
                     for name in ("sgd_nesterov_wd", "adamw_amsgrad_maximize")])
    assert compiled.threads.threads_for(75000, 75000 // compiled._POINTWISE_SPLIT) == 2
    for (p1, s1), (p2, s2) in zip(*runs):
        for a, b in zip(p1 + s1, p2 + s2):
            np.testing.assert_array_equal(a, b)
    assert len(calls) == 2 * 2 * 3


@given(n=st.integers(compiled.MIN_POINTWISE - 2, compiled.MIN_POINTWISE + 300),
       lr=st.floats(1e-4, 1.0), beta1=st.floats(0.0, 0.99), beta2=st.floats(0.0, 0.9999),
       momentum=st.floats(0.0, 0.99), dampening=st.floats(0.0, 0.9),
       weight_decay=st.sampled_from([0.0, 1e-3, 0.5]), maximize=st.booleans(),
       flag=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_any_update_same_bits_as_the_numpy_path(n, lr, beta1, beta2, momentum, dampening,
                                                weight_decay, maximize, flag, seed):
    # lengths around the threshold, any hyperparameters: both lerp sides (beta1 >< 0.5),
    # dampening, Nesterov or amsgrad (``flag``), weight decay coupled and decoupled
    builds = [
        lambda lib, ps: (lib.optim.SGD(ps, lr=lr, momentum=momentum,
                                       dampening=0.0 if flag else dampening, nesterov=flag
                                       and momentum > 0, weight_decay=weight_decay,
                                       maximize=maximize), None),
        lambda lib, ps: (lib.optim.Adam(ps, lr=lr, betas=(beta1, beta2), amsgrad=flag,
                                        weight_decay=weight_decay, maximize=maximize), None),
        lambda lib, ps: (lib.optim.AdamW(ps, lr=lr, betas=(beta1, beta2), amsgrad=flag,
                                         weight_decay=weight_decay, maximize=maximize), None)]
    for build in builds:
        (fast, fast_state), (slow, slow_state) = _both_paths(
            lambda: _train_with_grads(zg, build, [(n,)], seed=seed))
        for a, b in zip(fast + fast_state, slow + slow_state):
            np.testing.assert_array_equal(a, b)


def test_kernels_that_cannot_be_set_up_warn_once_and_leave_the_numpy_path(monkeypatch):
    def broken():
        raise RuntimeError("cannot cache function: no locator available")
    monkeypatch.setattr(compiled, "_load", broken)
    monkeypatch.setitem(compiled._state, "kernels", None)
    monkeypatch.setitem(compiled._state, "on", True)
    with pytest.warns(RuntimeWarning, match="numba is installed but its kernels could not"):
        assert not compiled.enabled()
    assert not compiled.enabled()  # decided once: no second warning, no second try
    x = _randn(4, 3, 5, 6)
    check(lambda x: F.batch_norm(x, None, None, training=True),
          lambda x: TF.batch_norm(x, None, None, training=True), x, rtol=1e-4, atol=1e-4)


def test_without_numba_the_numpy_kernels_run_silently(monkeypatch, recwarn):
    def missing():
        raise ImportError("No module named 'numba'")
    monkeypatch.setattr(compiled, "_load", missing)
    monkeypatch.setitem(compiled._state, "kernels", None)
    monkeypatch.setitem(compiled._state, "on", True)
    assert not compiled.enabled()
    assert not compiled.batch_norm_applies(np.zeros((2, 3, 16), np.float32))
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


@given(n=st.integers(1, 4), c=st.integers(1, 5), h=st.integers(1, 7), w=st.integers(1, 7),
       op=st.sampled_from(["max", "avg", "bn"]), seed=st.integers(0, 2 ** 16))
def test_any_shape_matches_torch(n, c, h, w, op, seed):
    # even and odd planes (odd ones take the NumPy path), single samples and channels
    before = compiled.enable(True)
    try:
        x = np.random.default_rng(seed).standard_normal((n, c, h, w)).astype(np.float32)
        if op == "bn":
            # one value per channel: torch's error, and zerograd's
            check_like_torch(lambda x: F.batch_norm(x, None, None, training=True),
                             lambda x: TF.batch_norm(x, None, None, training=True), x,
                             seed=seed, rtol=1e-3, atol=1e-4)
        else:
            fn = "max_pool2d" if op == "max" else "avg_pool2d"
            if h >= 2 and w >= 2:
                check(lambda x: getattr(F, fn)(x, 2), lambda x: getattr(TF, fn)(x, 2), x,
                      seed=seed)
    finally:
        compiled.enable(before)
