"""``Optimizer``: the base class holding parameter groups and per-parameter state.

Like torch's: ``param_groups`` is a list of dicts (``"params"`` plus every option, missing
options filled from ``defaults``), ``state`` maps each parameter to a dict created on its
first update, and ``state_dict()`` replaces parameters by their position so the state can be
loaded into a fresh model's optimizer. Subclasses write ``step`` as a loop over groups that
calls a plain update function on the arrays; updates write ``param._data`` in place (no graph)
and bump the version counter, so stale saved tensors are still detected by backward.

State lives where its parameter lives (``zeros_like(p)``), except the 0-d ``step`` counters,
which stay on the CPU as in torch: reading them for bias corrections needs no device sync.
"""
import copy
import functools
import warnings
from collections import OrderedDict, defaultdict
from itertools import chain

from zerograd import dtypes
from zerograd.autograd.grad_mode import enable_grad
from zerograd.autograd.graph import RemovableHandle
from zerograd.backend import array_module, backend_of
from zerograd.ops.creation import tensor as _new_tensor
from zerograd.tensor import Tensor

__all__ = ["Optimizer", "required"]

# Bytes per array in one block of an update (64K float32 elements): the handful of arrays
# an update touches (parameter, gradient, states, scratch) fit together in a core's L2.
_BLOCK_BYTES = 1 << 18


class _RequiredParameter:
    """Marks an option that has no default and must be given per group (torch's ``required``)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _typename(obj):
    cls = type(obj)
    return cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _with_step_hooks(step):
    """Wrap a subclass's ``step`` so registered pre/post hooks run around it and the
    optimizer remembers it has stepped (LR schedulers warn when called before that)."""
    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        if getattr(self, "_in_step", False):  # a subclass's step calling super().step()
            return step(self, *args, **kwargs)
        self._in_step = True
        try:
            return _run_with_hooks(self, step, args, kwargs)
        finally:
            self._in_step = False
    wrapper._hooked = True
    return wrapper


def _run_with_hooks(optimizer, step, args, kwargs):
    for hook in list(optimizer._optimizer_step_pre_hooks.values()):
        result = hook(optimizer, args, kwargs)
        if result is not None:
            if not (isinstance(result, tuple) and len(result) == 2):
                raise RuntimeError(f"{step} must return None or a tuple of (new_args, "
                                   f"new_kwargs), but got {result}.")
            args, kwargs = result
    out = step(optimizer, *args, **kwargs)
    optimizer._opt_called = True
    for hook in list(optimizer._optimizer_step_post_hooks.values()):
        hook(optimizer, args, kwargs)
    return out


def _scalar(value):
    """A Python number from a float or a one-element tensor (torch accepts a Tensor lr)."""
    return value.item() if isinstance(value, Tensor) else value


def _check_lr(lr):
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= _scalar(lr):
        raise ValueError(f"Invalid learning rate: {lr}")


def _step_tensor(value=0.0):
    """A 0-d ``step`` counter in the default float dtype on the CPU, as torch keeps it."""
    return _new_tensor(float(value), dtype=dtypes.get_default_dtype())


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs, or of dicts that each
            define a parameter group (``{"params": [...], "lr": 0.1, ...}``).
        defaults: the value of every option for groups that do not set it.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_hooked", False):
            cls.step = _with_step_hooks(step)

    def __init__(self, params, defaults):
        self.defaults = defaults
        self._init_hooks()
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got " + _typename(params))
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)  # generators (model.parameters()) are consumed once here
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def _init_hooks(self):
        self._optimizer_step_pre_hooks = OrderedDict()
        self._optimizer_step_post_hooks = OrderedDict()
        self._optimizer_state_dict_pre_hooks = OrderedDict()
        self._optimizer_state_dict_post_hooks = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks = OrderedDict()
        self._optimizer_load_state_dict_post_hooks = OrderedDict()
        self._scratch_buffers = {}

    # -- pickling / copying: only the state that defines the optimizer -------------------
    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "_optimizer_step_pre_hooks" not in self.__dict__:
            self._init_hooks()

    def __repr__(self):
        lines = [self.__class__.__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group.keys()):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        return "\n".join(lines) + "\n)"

    # -- parameter groups ------------------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a group of parameters (with its own options) to ``param_groups``."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        param_group["params"] = params
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some "
                                 "param names are missing")
            param_group["param_names"] = names
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params "
                                "is " + _typename(p))
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        if len(params) != len(set(params)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "in future, this will cause an error", stacklevel=3)
        seen = set()
        for group in self.param_groups:
            seen.update(group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {which} to the optimizer")
        if not seen.isdisjoint(params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none=True):
        """Reset the gradients: to None (default, cheapest) or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if g.grad_fn is not None:
                        g.detach_()
                    else:
                        g._requires_grad = False
                    g._data.fill(0)
                    g._bump_version()

    def step(self, closure=None):
        """Perform one optimization step; ``closure`` re-evaluates the model, returns the loss."""
        raise NotImplementedError(f"{type(self).__name__} must implement step()")

    # -- helpers for subclasses ------------------------------------------------------------
    @staticmethod
    def _eval_closure(closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def _scratch(self, like, size, count):
        """``count`` reusable flat work arrays of ``size`` elements, of the dtype and on the
        device of the array ``like`` (not part of the state)."""
        backend = backend_of(like)
        key = (backend.type, backend.device_index(like), like.dtype)
        bufs = self._scratch_buffers.get(key)
        if bufs is None or len(bufs) < count or bufs[0].size < size:
            size_needed = max(size, bufs[0].size if bufs else 0)
            bufs = [backend.xp.empty(size_needed, dtype=like.dtype)
                    for _ in range(max(count, len(bufs or ())))]
            self._scratch_buffers[key] = bufs
        return [b[:size] for b in bufs[:count]]

    def _apply_update(self, kernel, arrays, n_work, **kwargs):
        """Run the elementwise ``kernel(*arrays, work, xp=..., **kwargs)``, which updates the
        parameter and state arrays in place using the ``n_work`` scratch arrays ``work``
        and ``xp``, the array module of the parameter's device.

        Large contiguous arrays go through in blocks of ``_BLOCK_BYTES``: the arrays of
        one block stay in cache across the kernel's ~10 passes, instead of each pass
        streaming the whole parameter through memory. (None entries are absent states.)
        A backend with fused updates (``kernels.optim``: the GPU's CuPy kernels, the CPU's
        numba ones when the ``fast`` extra is installed) runs the whole update as one
        kernel instead, where it covers the case.
        """
        first = arrays[0]
        fused = getattr(backend_of(first).kernels, "optim", None)  # one-kernel updates
        fused = fused and fused.FUSED.get(kernel.__name__)
        if fused is not None and fused(*arrays, **kwargs):
            return
        xp = array_module(first)
        n, block = first.size, _BLOCK_BYTES // first.itemsize
        if n > block and backend_of(first).cache_blocking and all(
                a is None or a.flags.c_contiguous for a in arrays):
            flat = [None if a is None else a.reshape(-1) for a in arrays]
            work = self._scratch(first, block, n_work)
            for start in range(0, n, block):
                stop = min(start + block, n)
                kernel(*[None if a is None else a[start:stop] for a in flat],
                       [w[:stop - start] for w in work], xp=xp, **kwargs)
        else:
            work = [w.reshape(first.shape) for w in self._scratch(first, n, n_work)]
            kernel(*arrays, work, xp=xp, **kwargs)

    @staticmethod
    def _check_supported(differentiable):
        if differentiable:
            raise ValueError("differentiable=True is not supported: zerograd optimizers update "
                             "the parameter arrays in place, outside autograd. Compute a "
                             "differentiable update with tensor ops instead.")

    # -- hooks -----------------------------------------------------------------------------
    @staticmethod
    def _register(hooks, hook, prepend=False):
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def register_step_pre_hook(self, hook):
        """``hook(optimizer, args, kwargs) -> None or (new_args, new_kwargs)`` before ``step``."""
        return self._register(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook):
        """``hook(optimizer, args, kwargs) -> None`` after ``step``."""
        return self._register(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        return self._register(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        return self._register(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        return self._register(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        return self._register(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # -- saving and loading ----------------------------------------------------------------
    def state_dict(self):
        """The state as ``{"state": {index: {...}}, "param_groups": [{..., "params": [index]}]}``.

        Parameters are numbered in the order they appear across groups; the state tensors
        are returned by reference (copy the dict, e.g. ``copy.deepcopy``, to snapshot it).
        """
        for hook in self._optimizer_state_dict_pre_hooks.values():
            hook(self)
        mapping = {}
        start = 0

        def pack(group):
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        groups = [pack(g) for g in self.param_groups]
        state = {(mapping[id(k)] if isinstance(k, Tensor) else k): v
                 for k, v in self.state.items()}
        result = {"state": state, "param_groups": groups}
        for hook in self._optimizer_state_dict_post_hooks.values():
            out = hook(self, result)
            if out is not None:
                result = out
        return result

    def load_state_dict(self, state_dict):
        """Load a ``state_dict()``: groups and parameters are matched by position.

        State tensors are copied onto their parameter's device and cast to its dtype (the
        ``step`` counters keep theirs, as in torch), so the loaded optimizer never shares
        buffers with the dict or the optimizer it came from.
        """
        state_dict = state_dict.copy()
        for hook in self._optimizer_load_state_dict_pre_hooks.values():
            out = hook(self, state_dict)
            if out is not None:
                state_dict = out
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for g, s in zip(groups, saved_groups):
            if len(g["params"]) != len(s["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't "
                                 "match the size of optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))

        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = _cast(param, v)
            else:
                state[k] = v
        new_groups = []
        for g, s in zip(groups, saved_groups):
            s["params"] = g["params"]
            if "param_names" in g and "param_names" not in s:
                s["param_names"] = g["param_names"]
            new_groups.append(s)
        self.__setstate__({"state": state, "param_groups": new_groups})
        for hook in self._optimizer_load_state_dict_post_hooks.values():
            hook(self)


def _cast(param, value, key=None):
    """Deep-copy ``value`` with torch's policy: tensors go to ``param``'s device and (when
    floating) dtype, except ``step`` counters, which keep their own device and dtype."""
    if isinstance(value, Tensor):
        if key == "step":
            return Tensor._make(value._data.copy())
        array = value.detach().to(device=param.device)._data
        if array is value._data:  # already there: copy, so no buffer is shared
            array = array.copy()
        if param._data.dtype.kind == "f" and array.dtype.kind == "f":
            array = array.astype(param._data.dtype, copy=False)
        return Tensor._make(array)
    if key == "step" and isinstance(value, (int, float)):
        return _step_tensor(value)  # an older format kept the count as a Python number
    if isinstance(value, dict):
        return {k: _cast(param, v, key=k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(param, v) for v in value)
    return value
