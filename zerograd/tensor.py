"""The Tensor: a backend array plus what autograd needs to know about it.

A tensor owns ``_data`` (an array of the backend), and for autograd ``requires_grad``,
``grad``, ``grad_fn`` (the graph node that made it, None for leaves) and a version
counter shared with its views, bumped by every in-place change so that backward can
refuse stale saved values. Arithmetic and the rest of the PyTorch method surface are
one-line delegations to ``zerograd.ops`` inherited from ``TensorMethods``
(zerograd._tensor_methods); each op's forward and backward live together in ``ops``.
"""
import builtins
import warnings
import weakref

from zerograd import _tensor_methods, dtypes
from zerograd.backend import backend_of, data_address, get as _get_backend
from zerograd.device import CPU, resolve
from zerograd.size import Size


_HOST_ARRAY = _get_backend("cpu").array_type
# torch's words, so code written against torch sees the same hint
_NON_LEAF_GRAD_WARNING = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
    "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. "
    "If you access the non-leaf Tensor by mistake, make sure you access the leaf Tensor "
    "instead. See github.com/pytorch/pytorch/pull/30531 for more informations.")


class Tensor(_tensor_methods.TensorMethods):
    __slots__ = ("_data", "_requires_grad", "grad_fn", "_version_box", "__weakref__",
                 "__dict__")

    # Rarely set per tensor: class-level defaults keep creating a tensor cheap (an op's
    # output sets only the slots above); assigning one stores it on the instance.
    _grad = None
    _base = None
    _retains_grad = False
    _grad_accumulator = None
    _fw_grad = None
    _output_nr = 0  # which output of its grad_fn this tensor is (multi-output Functions)

    # Let NumPy hand mixed expressions (ndarray * tensor) to our reflected operators.
    __array_ufunc__ = None
    __array_priority__ = 1000

    def __init__(self, *args, dtype=None, device=None, requires_grad=False):
        """``Tensor(data)`` converts like ``tensor(data, dtype=float32)``; ``Tensor(2, 3)``
        allocates an uninitialized 2x3 float tensor (torch's legacy constructor)."""
        xp = resolve(device)[0].xp
        d = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
        if args and all(isinstance(a, builtins.int) for a in args):
            array = xp.empty(args, dtype=d.np)
        elif len(args) == 1 and isinstance(args[0], Size):
            array = xp.empty(tuple(args[0]), dtype=d.np)
        elif len(args) == 1 and isinstance(args[0], Tensor):
            array = args[0].detach().to(device=device, dtype=d, copy=True)._data
        elif len(args) == 1:
            array = xp.array(args[0], dtype=d.np)
        elif not args:
            array = xp.empty((0,), dtype=d.np)
        else:
            raise TypeError("Tensor() takes either sizes (ints) or one data argument")
        self._init(array, requires_grad, None)

    def _init(self, array, requires_grad, grad_fn):
        self._data = array
        self._requires_grad = requires_grad
        self.grad = None
        self.grad_fn = grad_fn
        self._version_box = [0]

    @classmethod
    def _make(cls, array, requires_grad=False, grad_fn=None):
        """Wrap an array without copying or checking (the fast path ops use)."""
        t = object.__new__(cls)
        t._data = array
        t._requires_grad = requires_grad
        t.grad_fn = grad_fn
        t._version_box = [0]
        return t

    # -- identity and metadata ------------------------------------------------------------
    @property
    def dtype(self):
        return dtypes.from_numpy_dtype(self._data.dtype)

    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[self._wrap_dim(dim)]

    def dim(self):
        return self._data.ndim

    ndimension = dim

    @property
    def ndim(self):
        return self._data.ndim

    def numel(self):
        return int(self._data.size)

    nelement = numel

    def element_size(self):
        return self._data.itemsize

    @property
    def device(self):
        data = self._data
        if type(data) is _HOST_ARRAY:
            return CPU
        from zerograd.backend import device_of
        return device_of(data)

    @property
    def is_cuda(self):
        return self.device.type == "cuda"

    @property
    def is_cpu(self):
        return self.device.type == "cpu"

    def is_floating_point(self):
        return self._data.dtype.kind == "f"

    def is_contiguous(self):
        return bool(self._data.flags["C_CONTIGUOUS"])

    def stride(self, dim=None):
        strides = tuple(s // self._data.itemsize for s in self._data.strides)
        return strides if dim is None else strides[self._wrap_dim(dim)]

    def data_ptr(self):
        return data_address(self._data)

    def _wrap_dim(self, dim):
        n = max(self._data.ndim, 1)
        if not -n <= dim < n:
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[{-n}, {n - 1}], but got {dim})")
        return dim % n

    # -- autograd attributes --------------------------------------------------------------
    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        if self.grad_fn is not None and not value:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If "
                               "you want to use a computed variable in a subgraph that doesn't "
                               "require differentiation use var_no_grad = var.detach().")
        if value and not (self._data.dtype.kind == "f"):
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients "
                               f"(got {self.dtype}); convert first, e.g. x.float()")
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def grad(self):
        """The gradient backward accumulated here (leaves, and non-leaves that retain it)."""
        if self._grad is None and self.grad_fn is not None and not self._retains_grad:
            warnings.warn(_NON_LEAF_GRAD_WARNING, UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value):
        self._grad = value

    @property
    def _version(self):
        return self._version_box[0]

    def _bump_version(self):
        self._version_box[0] += 1

    def _share_version_with(self, base):
        self._version_box = base._version_box
        root = self._base = base._base if base._base is not None else base
        if root.grad_fn is not None:
            # an in-place change through any view of a graph result re-points all its views
            # (zerograd.ops.inplace), so the result keeps weak references to them
            views = root.__dict__.get("_views")
            if views is None:
                views = root.__dict__["_views"] = weakref.WeakSet()
            views.add(self)

    def _accumulator(self):
        if self._grad_accumulator is None:
            from zerograd.autograd.function import AccumulateGrad
            self._grad_accumulator = AccumulateGrad(self)
        return self._grad_accumulator

    def retain_grad(self):
        """Keep this non-leaf's gradient in ``.grad`` after backward (after its hooks ran)."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is not None:
            self._retains_grad = True
            self.grad_fn._retain(self.output_nr, self)

    @property
    def output_nr(self):
        """Which output of ``grad_fn`` this tensor is (0 unless the op has several)."""
        fn = self.grad_fn
        return self._output_nr if fn is not None and fn._n_outputs != 1 else 0

    @property
    def retains_grad(self):
        return self._retains_grad

    def detach(self):
        """A tensor sharing this one's memory (and version counter), cut from the graph."""
        t = Tensor._make(self._data, False, None)
        t._version_box = self._version_box
        return t

    def detach_(self):
        if self._base is not None and self._base._requires_grad:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self.grad_fn = None
        self._requires_grad = False
        return self

    @property
    def data(self):
        """The values without autograd history; changes to it are not tracked (as in torch)."""
        return Tensor._make(self._data, False, None)

    @data.setter
    def data(self, value):
        array = value._data if isinstance(value, Tensor) else backend_of(
            self._data).xp.asarray(value)
        self._data = array

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires grad."""
        _autograd.backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def register_hook(self, hook):
        """``hook(grad)`` runs when this tensor's gradient is computed, before it reaches
        ``.grad`` or the op that made the tensor; a non-None result replaces the gradient.
        Returns a handle whose ``remove()`` unregisters the hook."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require "
                               "gradient")
        node = self.grad_fn if self.grad_fn is not None else self._accumulator()
        return node._register_tensor_hook(self.output_nr, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """``hook(tensor)`` runs after a backward has accumulated into this leaf's ``.grad``
        (optimizers stepping inside backward use it). Returns a removable handle."""
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require "
                               "gradient")
        from zerograd.autograd.graph import RemovableHandle
        table = self._accumulator()._hook_table().post_accumulate
        handle = RemovableHandle(table)
        table[handle.id] = hook
        return handle

    # -- conversion ------------------------------------------------------------------------
    def numpy(self, force=False):
        if type(self._data) is not _HOST_ARRAY and not self.is_cpu:
            if not force:
                raise self._not_on_host()
            return backend_of(self._data).to_host(self._data)
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        return self._data

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted "
                               "to Scalar; item() needs exactly one element")
        return self._data.reshape(()).item()

    def tolist(self):
        return self._host().tolist()

    def _host(self):
        """The values as a NumPy array (a copy for tensors on another device)."""
        data = self._data
        return data if type(data) is _HOST_ARRAY else backend_of(data).to_host(data)

    def _not_on_host(self):
        return TypeError(f"can't convert {self.device} device type tensor to numpy. Use "
                         "Tensor.cpu() to copy the tensor to host memory first.")

    def __array__(self, dtype=None, copy=None):
        if type(self._data) is not _HOST_ARRAY and not self.is_cpu:
            raise self._not_on_host()
        return self._data if dtype is None else self._data.astype(dtype)

    def __float__(self):
        return builtins.float(self.item())

    def __int__(self):
        return builtins.int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        return builtins.int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self._data.size} values is "
                               "ambiguous; use .any() or .all()")
        return builtins.bool(self._data.reshape(()).item())

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __hash__(self):
        return id(self)

    def __repr__(self):
        from zerograd._tensor_str import tensor_repr
        return tensor_repr(self)

    def __format__(self, spec):
        if self._data.ndim == 0:
            return self.item().__format__(spec)
        return builtins.object.__format__(self, spec) if spec else repr(self)

    def __reduce_ex__(self, protocol):
        return (_rebuild, (self._host(), self._requires_grad))

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                               "support the deepcopy protocol at the moment")
        t = Tensor._make(self._data.copy(), self._requires_grad, None)
        if self.grad is not None:
            t.grad = Tensor._make(self.grad._data.copy())
        memo[id(self)] = t
        return t

    # -- dtype and device conversion ---------------------------------------------------------
    def to(self, *args, dtype=None, device=None, copy=False, non_blocking=False):
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other_tensor)``."""
        for a in args:
            if isinstance(a, Tensor):  # torch: to(other) takes other's dtype and device
                dtype, device = a.dtype, a.device
            elif isinstance(a, (dtypes.dtype, type)) or (isinstance(a, str) and a in dtypes._BY_NAME):
                dtype = a
            else:
                device = a
        result = self
        if device is not None:
            resolve(device)  # a clear error for a device this machine lacks
            result = _ops.to_device(self, device, copy=copy and dtype is None)
        if dtype is None:
            return result.clone() if copy and result is self else result
        return _ops.to_dtype(result, dtypes.as_dtype(dtype), copy=copy and result is self)

    def type(self, dtype=None):
        if dtype is None:
            return {"float32": "zerograd.FloatTensor", "float64": "zerograd.DoubleTensor",
                    "int64": "zerograd.LongTensor", "int32": "zerograd.IntTensor",
                    "bool": "zerograd.BoolTensor", "uint8": "zerograd.ByteTensor"}.get(
                        self.dtype.name, f"zerograd.{self.dtype.name}")
        if isinstance(dtype, str) and dtype.endswith("Tensor"):  # x.type('torch.LongTensor')
            dtype = dtypes.legacy_type_dtype(dtype)
        # a legacy type such as zerograd.FloatTensor carries its dtype as a class attribute
        legacy = getattr(dtype, "dtype", None) if isinstance(dtype, type) else None
        return self.to(legacy if isinstance(legacy, dtypes.dtype) else dtype)

    def type_as(self, other):
        return self.to(other.dtype)

    def float(self):
        return self.to(dtypes.float32)

    def double(self):
        return self.to(dtypes.float64)

    def half(self):
        return self.to(dtypes.float16)

    def long(self):
        return self.to(dtypes.int64)

    def int(self):
        return self.to(dtypes.int32)

    def short(self):
        return self.to(dtypes.int16)

    def byte(self):
        return self.to(dtypes.uint8)

    def bool(self):
        return self.to(dtypes.bool_)

    def cpu(self, memory_format=None):
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False, memory_format=None):
        if device is None:
            device = "cuda"
        elif isinstance(device, int):
            device = f"cuda:{device}"
        return self.to(device)

    def pin_memory(self, device=None):
        return self  # host memory is what NumPy gives; accepted so loaders written for GPUs run

    def is_pinned(self, device=None):
        return False


def _rebuild(array, requires_grad):
    return Tensor._make(array, requires_grad, None)


# ops need the Tensor class defined above, and Tensor's methods delegate to ops: the late
# import closes that loop without patching methods onto the class from elsewhere. The
# method mixin gets the same module handle (it cannot import ops before Tensor exists).
from zerograd import ops as _ops  # noqa: E402
from zerograd import autograd as _autograd  # noqa: E402  (backward() without an import per call)

_tensor_methods._ops = _ops

