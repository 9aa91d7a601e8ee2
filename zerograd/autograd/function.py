"""The node of the backward graph: ``Function`` holds an op's forward and backward together.

An op subclasses ``Function`` and writes two static methods, like PyTorch's custom
functions::

    class Mul(Function):
        @staticmethod
        def forward(ctx, a, b):            # backend arrays in, one array out
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, grad_output):    # zerograd Tensors in and out
            a, b = ctx.saved_tensors
            return grad_output * b, grad_output * a

``forward`` runs on raw arrays, so it costs what the NumPy call costs. ``backward`` is
written with zerograd's own differentiable ops, so running it while recording
(``create_graph=True``) builds the graph of the derivative: grad of grad, Hessians.
An instance of the class is the graph node (PyTorch's ``ctx``/``grad_fn``): it keeps the
edges to its inputs' nodes and exactly the tensors ``forward`` chose to save.
"""
import weakref

from zerograd.autograd import forward_ad
from zerograd.autograd.grad_mode import is_grad_enabled
from zerograd.backend import backend_of, device_of, get as _backend
from zerograd.tensor import Tensor

_CPU = _backend("cpu")
_HOST_ARRAY = _CPU.array_type

_FREED = object()  # marks saved tensors released by a backward without retain_graph


class Function:
    """Base of every differentiable op; an instance is one node of the backward graph."""

    # When a subclass's output may be a view of its first input (reshape, slicing,
    # transpose...), in-place changes to one must be seen by version checks on the other.
    is_view = False
    # Forward mode: a linear op's JVP is the op applied to the tangents; other ops define
    # ``jvp(ctx, *tangents)`` using ``ctx.fw_inputs`` / ``ctx.fw_output``.
    jvp_linear = False

    # Class-level defaults: a node that is never recorded (no_grad, or no input needs
    # grad) costs nothing beyond its creation.
    _to_save = ()
    _saved = ()
    _next = ()
    _input_meta = ()
    _output_ref = None
    _retains = False  # set when the output tensor called retain_grad()
    _backend = None  # set by apply: the backend of the inputs' device
    # An op whose output lives on another device than its input (``Tensor.to(device)``).
    changes_device = False
    needs_input_grad = ()

    # -- the API an op's forward and backward use -------------------------------------
    def save_for_backward(self, *items):
        """Keep arrays (inputs, the output, or intermediates) for backward.

        Inputs and the output come back as the original tensors, so a derivative
        computed with ``create_graph=True`` stays connected to the graph.
        """
        self._to_save = items

    @property
    def saved_tensors(self):
        saved = self._saved
        if saved is _FREED:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access "
                "saved tensors after they have already been freed). Saved intermediate "
                "values of the graph are freed when you call .backward() or "
                "autograd.grad(). Specify retain_graph=True if you need to backward through "
                "the graph a second time or if you need to access saved tensors after "
                "calling backward.")
        return tuple([self._unpack(entry) for entry in saved])

    def mark_non_differentiable(self, *arrays):  # torch API compatibility; outputs here are single
        pass

    # -- graph bookkeeping ---------------------------------------------------------------
    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` on the arrays of ``args`` and record the node if any input needs grad."""
        ctx = object.__new__(cls)
        record = tangent = False
        arrays = []
        first = None
        mixed = False
        for a in args:
            if isinstance(a, Tensor):
                data = a._data
                arrays.append(data)
                if first is None:
                    first = data
                elif type(data) is not type(first):
                    mixed = True
                if a._requires_grad:
                    record = True
                if a._fw_grad is not None:
                    tangent = True
            else:
                arrays.append(a)
        # The device of the inputs decides the array module forward computes with.
        if first is None or type(first) is _HOST_ARRAY:
            backend = _CPU
        else:
            backend = backend_of(first)
        if mixed:
            backend = _common_backend(args, arrays)
        ctx._backend = backend
        out = cls.forward(ctx, *arrays, **kwargs)
        if type(out) is not backend.array_type:
            scalar, out = out, _adopt_output(cls, backend, out)
            # a scalar output that forward also saved must still count as the output
            if ctx._to_save:
                ctx._to_save = tuple(out if s is scalar else s for s in ctx._to_save)
        if record:
            # Only floating outputs carry gradients (argmax-like results never do).
            record = out.dtype.kind == "f" and is_grad_enabled()
        result = Tensor._make(out, record, ctx if record else None)
        if (cls.is_view and isinstance(args[0], Tensor)
                and backend.xp.may_share_memory(out, arrays[0])):
            result._share_version_with(args[0])
        if tangent and forward_ad.is_active():
            forward_ad.push_tangent(cls, ctx, args, kwargs, result)
        if record:
            ctx._connect(args, arrays, out, result)
        return result

    @property
    def xp(self):
        """The array module of this op's inputs (NumPy for CPU tensors): forward uses it."""
        return self._backend.xp

    @property
    def kernels(self):
        """The device-specific kernels (convolution, pooling) of this op's inputs."""
        return self._backend.kernels

    def _connect(self, args, arrays, out, result):
        nexts, meta, needs = [], [], []
        for a in args:
            if isinstance(a, Tensor) and a._requires_grad:
                fn = a.grad_fn
                if fn is None:
                    fn = a._grad_accumulator or a._accumulator()
                nexts.append(fn)
                data = a._data
                meta.append((data.shape, data.dtype))
                needs.append(True)
            else:
                nexts.append(None)
                meta.append(None)
                needs.append(False)
        self._next = nexts
        self._input_meta = meta
        self.needs_input_grad = tuple(needs)
        if self._to_save:
            self._saved = tuple([self._pack(item, args, arrays, out, result)
                                 for item in self._to_save])
            self._to_save = ()

    @staticmethod
    def _pack(item, args, arrays, out, result):
        # Entries: ("in", tensor, version)
        #          | ("out", weakref, array, version box, version, forward-mode tangent)
        #          | ("const", array) | None.  The version numbers catch in-place edits.
        if item is None:
            return None
        if isinstance(item, Tensor):
            return ("in", item, item._version)
        for a, arr in zip(args, arrays):
            if arr is item and isinstance(a, Tensor):
                return ("in", a, a._version)
        if item is out:
            return ("out", weakref.ref(result), out, result._version_box, result._version,
                    result._fw_grad)
        return ("const", item)

    def _unpack(self, entry):
        if entry is None:
            return None
        kind = entry[0]
        if kind == "in":
            tensor, version = entry[1], entry[2]
            if tensor._version != version:
                self._raise_modified(tensor.shape, tensor.dtype, version, tensor._version)
            return tensor
        if kind == "out":
            _, ref, array, box, version, fw_grad = entry
            if box[0] != version:
                self._raise_modified(array.shape, array.dtype, version, box[0], output=True)
            tensor = ref()
            if tensor is None or tensor.grad_fn is not self:
                # The output tensor is gone (or was rebased by an in-place op): rebuild it,
                # still pointing at this node so higher-order graphs connect through it,
                # and with the tangent it had in forward mode.
                tensor = Tensor._make(array, True, self)
                tensor._fw_grad = fw_grad
            return tensor
        return Tensor._make(entry[1], False, None)

    def _raise_modified(self, shape, dtype, expected, actual, output=False):
        role = f"which is output 0 of {self.name()}" if output else f"saved by {self.name()}"
        raise RuntimeError(
            "one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: [tensor of shape {list(shape)}, dtype {dtype}], {role}, is at "
            f"version {actual}; expected version {expected} instead. Hint: replace the "
            "in-place operation (x += ..., x.add_(...), x[i] = ...) with its out-of-place form, "
            "or clone() the tensor before changing it.")

    def _release(self):
        if self._saved:
            self._saved = _FREED

    # -- what a learner sees --------------------------------------------------------------
    @classmethod
    def name(cls):
        return f"{cls.__name__}Backward0"

    @property
    def next_functions(self):
        return tuple((n, 0) for n in self._next)

    def __repr__(self):
        return f"<{self.name()} object at {hex(id(self))}>"

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("a Function subclass must define forward")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a Function subclass must define backward")


def _common_backend(args, arrays):
    """The one backend of a mix of array types, or torch's error for a mix of devices.

    As in torch, a 0-d CPU tensor may join tensors of another device (it is a scalar);
    its array is moved there in ``arrays``.
    """
    devices = {}
    for a, arr in zip(args, arrays):
        if isinstance(a, Tensor):
            devices.setdefault(str(device_of(arr)), []).append(arr)
    if len(devices) == 1:
        return backend_of(next(iter(devices.values()))[0])
    others = [d for d in devices if d != "cpu"]
    if len(others) == 1 and all(arr.ndim == 0 for arr in devices.get("cpu", ())):
        backend = backend_of(devices[others[0]][0])
        for i, (a, arr) in enumerate(zip(args, arrays)):
            if isinstance(a, Tensor) and type(arr) is _HOST_ARRAY:
                arrays[i] = backend.from_host(arr)
        return backend
    names = sorted(devices, key=lambda d: (d != "cpu", d))
    raise RuntimeError("Expected all tensors to be on the same device, but found at least "
                       f"two devices, {names[0]} and {names[1]}!")


def _adopt_output(cls, backend, out):
    """forward's result as an array of the inputs' device: numbers and array scalars are
    wrapped; an array of another device is a bug in the op, reported as such."""
    if cls.changes_device and backend_of(out).array_type is type(out):
        return out
    if isinstance(out, backend.array_type):
        return out
    if isinstance(out, (int, float, bool, complex)) or backend_of(out) is backend:
        return backend.xp.asarray(out)
    raise RuntimeError(
        f"internal error: {cls.__name__}.forward returned a {type(out).__name__} for inputs on "
        f"device '{backend.type}' (an op must compute with ctx.xp, the module of its inputs)")


class AccumulateGrad:
    """The sink node of a leaf tensor: adds the incoming gradient into ``leaf.grad``."""

    _next = ()
    _input_meta = ()
    _saved = ()

    def __init__(self, leaf):
        self.variable_ref = weakref.ref(leaf)

    @property
    def variable(self):
        return self.variable_ref()

    @staticmethod
    def name():
        return "AccumulateGrad"

    next_functions = ()

    def _release(self):
        pass

    def __repr__(self):
        return f"<AccumulateGrad object at {hex(id(self))}>"
