"""The CUDA kernels' code, run on NumPy arrays, against the CPU kernels.

``zerograd.backend.cuda.conv_kernels`` and ``pool_kernels`` take their array module from
their inputs, so CI (no GPU) checks their arithmetic here; the GPU run (tests/cuda with
CuPy) then only has to confirm that CuPy computes what NumPy does.
"""
import numpy as np
import pytest

from zerograd.backend.cpu import conv_kernels as cpu_conv, pool_kernels as cpu_pool
from zerograd.backend.cuda import conv_kernels as gpu_conv, pool_kernels as gpu_pool

# (N, C, H, W, O, kh, kw, stride, dilation, padding per side, groups)
CONVS = [
    (2, 3, 7, 6, 4, 3, 3, (1, 1), (1, 1), (1, 1, 1, 1), 1),
    (3, 4, 9, 8, 6, 3, 2, (2, 1), (1, 2), (0, 1, 2, 0), 2),
    (1, 2, 5, 5, 2, 1, 1, (1, 1), (1, 1), (0, 0, 0, 0), 1),
    (2, 6, 8, 8, 6, 3, 3, (2, 2), (1, 1), (1, 1, 1, 1), 3),
    (2, 2, 6, 7, 3, 2, 2, (1, 1), (2, 2), (1, 2, 0, 1), 1),  # 'same'-style uneven padding
]


def _geometry(module, case):
    N, C, H, W, O, kh, kw, stride, dilation, pad, groups = case
    return module.ConvGeometry(H, W, kh, kw, stride, dilation, pad, groups)


def _arrays(case, rng):
    N, C, H, W, O, kh, kw, stride, dilation, pad, groups = case
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = rng.standard_normal((O, C // groups, kh, kw)).astype(np.float32)
    b = rng.standard_normal(O).astype(np.float32)
    return x, w, b


@pytest.mark.parametrize("case", CONVS)
def test_conv_family_matches_the_cpu_kernels(case, rng):
    x, w, b = _arrays(case, rng)
    g_cpu, g_gpu = _geometry(cpu_conv, case), _geometry(gpu_conv, case)
    y = cpu_conv.conv_forward(x, w, b, g_cpu)
    np.testing.assert_allclose(gpu_conv.conv_forward(x, w, b, g_gpu), y, rtol=1e-5, atol=1e-5)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    bias_c = rng.standard_normal(x.shape[1]).astype(np.float32)
    np.testing.assert_allclose(gpu_conv.conv_transpose_forward(gy, w, bias_c, g_gpu),
                               cpu_conv.conv_transpose_forward(gy, w, bias_c, g_cpu),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gpu_conv.conv_weight_forward(x, gy, g_gpu),
                               cpu_conv.conv_weight_forward(x, gy, g_cpu), rtol=1e-4, atol=1e-4)


def test_conv_splits_batches_that_exceed_the_column_budget(rng, monkeypatch):
    case = CONVS[1]
    x, w, b = _arrays(case, rng)
    whole = gpu_conv.conv_forward(x, w, b, _geometry(gpu_conv, case))
    monkeypatch.setattr(gpu_conv, "_COLUMN_BYTES", 1)  # one sample per block
    np.testing.assert_allclose(gpu_conv.conv_forward(x, w, b, _geometry(gpu_conv, case)), whole,
                               rtol=1e-6, atol=1e-6)
    gy = rng.standard_normal(whole.shape).astype(np.float32)
    g_cpu = _geometry(cpu_conv, case)
    np.testing.assert_allclose(gpu_conv.conv_weight_forward(x, gy, _geometry(gpu_conv, case)),
                               cpu_conv.conv_weight_forward(x, gy, g_cpu), rtol=1e-4, atol=1e-4)


# (H, W, kernel, stride, padding, dilation, ceil_mode)
POOLS = [(6, 6, (2, 2), (2, 2), (0, 0), (1, 1), False),
         (7, 5, (3, 3), (2, 1), (1, 1), (1, 1), True),
         (8, 8, (2, 3), (1, 2), (1, 0), (2, 1), False)]


@pytest.mark.parametrize("case", POOLS)
def test_max_pool_plan_matches_the_cpu_plan(case, rng):
    x = rng.standard_normal((2, 3) + case[:2]).astype(np.float32)
    x[0, 0, 1, 1] = np.nan  # torch reports a window's last NaN
    x[1, 2, :2, :2] = 1.5   # ties: the first maximum wins
    cpu_plan, gpu_plan = cpu_pool.WindowPlan(*case), gpu_pool.WindowPlan(*case)
    y_cpu, arg_cpu = cpu_plan.max_with_arg(x)
    y_gpu, arg_gpu = gpu_plan.max_with_arg(x)
    np.testing.assert_array_equal(y_gpu, y_cpu)
    np.testing.assert_array_equal(arg_gpu, arg_cpu)
    assert arg_gpu.dtype == arg_cpu.dtype
    np.testing.assert_array_equal(gpu_plan.flat_indices(arg_gpu), cpu_plan.flat_indices(arg_cpu))


@pytest.mark.parametrize("include_pad", [True, False])
@pytest.mark.parametrize("case", POOLS[:2])
def test_avg_pool_plan_matches_the_cpu_plan(case, include_pad, rng):
    H, W, kernel, stride, padding, _, ceil_mode = case
    args = (H, W, kernel, stride, padding, ceil_mode, include_pad, None)
    cpu_plan, gpu_plan = cpu_pool.AvgPlan(*args), gpu_pool.AvgPlan(*args)
    x = rng.standard_normal((2, 3, H, W)).astype(np.float32)
    y = cpu_plan.average(x)
    np.testing.assert_allclose(gpu_plan.average(x), y, rtol=1e-6)
    assert gpu_plan.average(x).dtype == np.float32
    g = rng.standard_normal(y.shape).astype(np.float32)
    np.testing.assert_allclose(gpu_plan.spread(gpu_plan.divided(g)),
                               cpu_plan.spread(cpu_plan.divided(g)), rtol=1e-6)
    xi = rng.integers(-9, 9, (2, 3, H, W))
    np.testing.assert_array_equal(gpu_plan.average(xi), cpu_plan.average(xi))


def test_adaptive_max_plan_matches_the_cpu_plan(rng):
    x = rng.standard_normal((2, 3, 7, 5)).astype(np.float32)
    y_cpu, i_cpu = cpu_pool.AdaptiveMaxPlan(7, 5, 3, 2).max_with_indices(x)
    y_gpu, i_gpu = gpu_pool.AdaptiveMaxPlan(7, 5, 3, 2).max_with_indices(x)
    np.testing.assert_array_equal(y_gpu, y_cpu)
    np.testing.assert_array_equal(i_gpu, i_cpu)


_HARNESS = """
#include <cmath>
typedef float T;
static void k(T grad, double lr, double beta1, double beta2, double eps, double weight_decay,
              double step_size, double bc2_sqrt, bool maximize, bool decoupled,
              T& param, T& exp_avg, T& exp_avg_sq) {
%s
}
extern "C" void run(int n, const float* grad, double lr, double beta1, double beta2,
                    double eps, double wd, double step_size, double bc2, int maximize,
                    int decoupled, float* p, float* m, float* v) {
    for (int i = 0; i < n; i++)
        k(grad[i], lr, beta1, beta2, eps, wd, step_size, bc2, maximize, decoupled,
          p[i], m[i], v[i]);
}
"""


@pytest.fixture(scope="module")
def fused_adam_on_host(tmp_path_factory):
    """The fused Adam kernel's CUDA C body compiled for the host (CUDA C's arithmetic is
    C++'s), so CI checks it computes what the generic update does."""
    import ctypes
    import shutil
    import subprocess
    from zerograd.backend.cuda.optim_kernels import _ADAM_BODY
    if shutil.which("g++") is None:
        pytest.skip("no C++ compiler")
    folder = tmp_path_factory.mktemp("adam")
    (folder / "adam.cpp").write_text(_HARNESS % _ADAM_BODY)
    subprocess.run(["g++", "-O1", "-ffp-contract=off", "-shared", "-fPIC", "-o",
                    str(folder / "adam.so"), str(folder / "adam.cpp")], check=True)
    lib = ctypes.CDLL(str(folder / "adam.so"))
    f, d = ctypes.POINTER(ctypes.c_float), ctypes.c_double
    lib.run.argtypes = [ctypes.c_int, f, d, d, d, d, d, d, d, ctypes.c_int, ctypes.c_int,
                        f, f, f]
    return lib, f


@pytest.mark.parametrize("weight_decay,maximize,decoupled,beta1,step",
                         [(0.0, False, False, 0.9, 1), (0.01, True, False, 0.9, 7),
                          (0.01, False, True, 0.3, 3), (0.01, True, True, 0.9, 2)])
def test_fused_adam_matches_the_generic_update(fused_adam_on_host, rng, weight_decay, maximize,
                                               decoupled, beta1, step):
    from zerograd.optim.adam import _adam_update
    lib, f = fused_adam_on_host
    p, g, m, v = (rng.standard_normal(500).astype(np.float32) for _ in range(4))
    v = np.abs(v)
    fused = [a.copy() for a in (p, m, v)]
    _adam_update(p, g, m, v, None, [np.empty_like(p), np.empty_like(p)], xp=np,
                 step=float(step), beta1=beta1, beta2=0.999, lr=1e-3,
                 weight_decay=weight_decay, eps=1e-8, maximize=maximize,
                 decoupled_weight_decay=decoupled)
    ptr = lambda a: a.ctypes.data_as(f)  # noqa: E731
    lib.run(p.size, ptr(g), 1e-3, beta1, 0.999, 1e-8, weight_decay, 1e-3 / (1 - beta1 ** step),
            (1 - 0.999 ** step) ** 0.5, maximize, decoupled, *map(ptr, fused))
    for generic, one_kernel in zip((p, m, v), fused):
        np.testing.assert_allclose(one_kernel, generic, rtol=1e-6, atol=1e-9)
