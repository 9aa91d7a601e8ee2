"""Fused optimizer updates: one GPU kernel per parameter instead of one per array pass.

An optimizer's update is a chain of ~10 elementwise passes (``zerograd.optim``'s update
functions, written with ``xp``); on a GPU each pass is a kernel launch plus Python work,
which for a network of many small tensors costs more than the arithmetic. The kernels
here do a whole update in one ``cupy.ElementwiseKernel``. ``Optimizer._apply_update``
looks the update function's name up in ``FUSED``; a fused update answers False for a
case it does not cover (then the generic passes run), so behaviour never depends on it.
"""
_ADAM_BODY = """
    T g = maximize ? (T)(-grad) : grad;
    if (weight_decay != 0.0) {
        if (decoupled) {
            param = param * (T)(1.0 - lr * weight_decay);
        } else {
            g = g + (T)weight_decay * param;
        }
    }
    T diff = g - exp_avg;  /* torch's two-sided lerp_ of exp_avg towards g */
    exp_avg = (1.0 - beta1 < 0.5) ? (T)(exp_avg + (T)(1.0 - beta1) * diff)
                                  : (T)(g - diff * (T)beta1);
    exp_avg_sq = exp_avg_sq * (T)beta2 + (g * (T)(1.0 - beta2)) * g;
    T denom = sqrt(exp_avg_sq) + (T)(eps * bc2_sqrt);
    param = param + (exp_avg / denom) * (T)(-step_size * bc2_sqrt);
"""
_KERNELS = {}


def _kernel(name, params_in, params_out, body):
    kernel = _KERNELS.get(name)
    if kernel is None:
        import cupy
        kernel = _KERNELS[name] = cupy.ElementwiseKernel(params_in, params_out, body,
                                                         f"zerograd_{name}")
    return kernel


def adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, step, beta1, beta2, lr,
         weight_decay, eps, maximize, decoupled_weight_decay):
    """``zerograd.optim.adam._adam_update`` in one kernel (float32/float64, no amsgrad)."""
    if max_exp_avg_sq is not None or param.dtype.char not in "fd" or not (
            grad.dtype == exp_avg.dtype == exp_avg_sq.dtype == param.dtype):
        return False
    kernel = _kernel(
        "adam",
        "T grad, float64 lr, float64 beta1, float64 beta2, float64 eps, "
        "float64 weight_decay, float64 step_size, float64 bc2_sqrt, bool maximize, "
        "bool decoupled",
        "T param, T exp_avg, T exp_avg_sq", _ADAM_BODY)
    kernel(grad, lr, beta1, beta2, eps, weight_decay, lr / (1 - beta1 ** step),
           (1 - beta2 ** step) ** 0.5, bool(maximize), bool(decoupled_weight_decay),
           param, exp_avg, exp_avg_sq)
    return True


FUSED = {"_adam_update": adam}
