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

Several outputs. ``forward`` may return a tuple of arrays; ``apply`` then returns a tuple
of tensors, all with this node as ``grad_fn`` (``output_nr`` tells them apart), and
``backward(ctx, *grad_outputs)`` gets one gradient per output: zeros for an output that
received none (``ctx.set_materialize_grads(False)`` passes None instead).
``ctx.mark_non_differentiable(*arrays)`` makes outputs that never carry a gradient (the
indices of a max) not require grad; integer outputs never do. A ``jvp`` returns one
tangent per output.

An optional array-level backward. Some derivatives have a cheaper form on raw arrays
that is not itself differentiable. Such an op may also define::

        @staticmethod
        def backward_array(ctx, *grad_arrays):   # arrays in, arrays (or None) out
            ...

The engine calls it instead of ``backward`` when no graph of the derivative is being
built (``create_graph=False``), with the gradients' arrays, and wraps what it returns;
with ``create_graph=True`` it calls ``backward``. Both must compute the same derivative:
``tests/autograd/backward_array_check.py`` compares them on random inputs. Inside it use
``ctx.xp`` (the inputs' array module) and the saved tensors' ``._data``.
"""
import weakref

from zerograd.autograd import _saved, forward_ad
from zerograd.autograd.grad_mode import _state as _grad_mode, is_grad_enabled
from zerograd.autograd.graph import Node, any_active as _any_saved_hooks
from zerograd.backend import backend_of, device_of, get as _backend
from zerograd.device import mixed_devices_error
from zerograd.tensor import Tensor

_CPU = _backend("cpu")
_HOST_ARRAY = _CPU.array_type

_FREED = object()  # marks saved tensors released by a backward without retain_graph
_pack, _unpack = _saved.pack, _saved.unpack


class Function(Node):
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
    _input_meta = ()  # per input: (shape, dtype, array type, output_nr of its edge)
    _output_meta = ()  # several outputs: (shape, dtype) of each, to materialize zero grads
    _non_differentiable = ()
    _materialize_grads = True
    _backend = None  # set by apply: the backend of the inputs' device
    # An optional ``backward_array(ctx, *grad_arrays)`` (see the module docstring).
    backward_array = None
    # An op whose output lives on another device than its input (``Tensor.to(device)``).
    changes_device = False
    # Set by the engine before ``backward_array``: True when nothing else can see the
    # incoming gradient's memory, so the op may compute its result into it and return it.
    grad_owned = False
    # Set by the engine before ``backward_array``: False when the saved state is released
    # right after it (no ``retain_graph``), so the op may reuse its own buffers in place.
    keeps_saved = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._plain = cls.backward_array is None
        cls._array_ready = not cls._plain

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
        return tuple([_unpack(self, entry) for entry in saved])

    def mark_non_differentiable(self, *outputs):
        """The given output arrays of ``forward`` will not require grad (indices, masks)."""
        self._non_differentiable = self._non_differentiable + outputs

    def set_materialize_grads(self, value):
        """With False, ``backward`` gets None (not zeros) for outputs that got no gradient."""
        self._materialize_grads = bool(value)

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
            if isinstance(out, (tuple, list)):
                return ctx._apply_multi(args, arrays, kwargs, out, record, tangent)
            scalar, out = out, _adopt_output(cls, backend, out)
            # a scalar output that forward also saved must still count as the output
            if ctx._to_save:
                ctx._to_save = tuple(out if s is scalar else s for s in ctx._to_save)
        if record:
            # Only floating outputs carry gradients (argmax-like results never do).
            record = (out.dtype.kind == "f" and _grad_mode.enabled
                      and not ctx._non_differentiable)
        result = Tensor._make(out, record, ctx if record else None)
        if (cls.is_view and isinstance(args[0], Tensor)
                and backend.xp.may_share_memory(out, arrays[0])):
            result._share_version_with(args[0])
        if tangent and forward_ad.is_active():
            forward_ad.push_tangent(cls, ctx, args, kwargs, result)
        if record:
            ctx._connect(args, arrays, (out,), (result,))
        return result

    def _apply_multi(self, args, arrays, kwargs, outs, record, tangent):
        """``apply`` for a forward that returned several arrays: a tuple of tensors."""
        cls, backend = type(self), self._backend
        adopted = tuple(o if type(o) is backend.array_type else _adopt_output(cls, backend, o)
                        for o in outs)
        if self._to_save:  # scalar outputs that forward also saved still count as outputs
            swap = {id(o): a for o, a in zip(outs, adopted) if o is not a}
            self._to_save = tuple(swap.get(id(s), s) for s in self._to_save)
        outs = adopted
        record = record and is_grad_enabled()
        marked = self._non_differentiable
        results = []
        for nr, o in enumerate(outs):
            diff = record and o.dtype.kind == "f" and not any(o is m for m in marked)
            t = Tensor._make(o, diff, self if diff else None)
            if diff and nr:
                t._output_nr = nr
            results.append(t)
        results = tuple(results)
        if cls.is_view and isinstance(args[0], Tensor):
            for t in results:
                if self._backend.xp.may_share_memory(t._data, arrays[0]):
                    t._share_version_with(args[0])
        if tangent and forward_ad.is_active():
            forward_ad.push_tangent(cls, self, args, kwargs, results)
        if any(t._requires_grad for t in results):
            self._n_outputs = len(outs)
            self._plain = self._array_ready = False
            self._output_meta = tuple((o.shape, o.dtype) for o in outs)
            self._connect(args, arrays, outs, results)
        return results

    @property
    def xp(self):
        """The array module of this op's inputs (NumPy for CPU tensors): forward uses it."""
        return self._backend.xp

    @property
    def kernels(self):
        """The device-specific kernels (convolution, pooling) of this op's inputs."""
        return self._backend.kernels

    def _connect(self, args, arrays, outs, results):
        nexts, meta = [], []
        for a in args:
            if isinstance(a, Tensor) and a._requires_grad:
                fn = a.grad_fn
                if fn is None:
                    fn = a._grad_accumulator or a._accumulator()
                nexts.append(fn)
                data = a._data
                # what the gradient sent along this edge must be, and which output it feeds
                # (the output number counts only where ``fn`` has several outputs)
                meta.append((data.shape, data.dtype, type(data), a._output_nr))
            else:
                nexts.append(None)
                meta.append(None)
        self._next = nexts
        self._input_meta = meta
        if self._to_save:
            saved = []
            for item in self._to_save:
                # the common case inline (per-op overhead): the array of a tensor input
                for a, arr in zip(args, arrays):
                    if arr is item and isinstance(a, Tensor):
                        saved.append(("in", a, a._version_box[0]))
                        break
                else:
                    saved.append(_pack(item, args, arrays, outs, results))
            saved = tuple(saved)
            self._saved = _saved.with_hooks(saved) if _any_saved_hooks[0] else saved
            self._to_save = ()

    @property
    def needs_input_grad(self):
        """Per input: does it need a gradient (backward may skip the others)."""
        return tuple([n is not None for n in self._next])

    def _release(self):
        if self._saved:
            self._saved = _FREED

    # -- what a learner sees --------------------------------------------------------------
    @classmethod
    def name(cls):
        return f"{cls.__name__}Backward0"

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
    raise mixed_devices_error(devices)


def _adopt_output(cls, backend, out):
    """forward's result as an array of the inputs' device: numbers and array scalars are
    wrapped; an array of another device is a bug in the op, reported as such."""
    if backend is _CPU and isinstance(out, _CPU.array_types):  # a NumPy scalar (reductions)
        return _CPU.xp.asarray(out) if not isinstance(out, _HOST_ARRAY) else out
    if cls.changes_device and backend_of(out).array_type is type(out):
        return out
    if isinstance(out, backend.array_type):
        return out
    if isinstance(out, (int, float, bool, complex)) or backend_of(out) is backend:
        return backend.xp.asarray(out)
    raise RuntimeError(
        f"internal error: {cls.__name__}.forward returned a {type(out).__name__} for inputs on "
        f"device '{backend.type}' (an op must compute with ctx.xp, the module of its inputs)")


class AccumulateGrad(Node):
    """The sink node of a leaf tensor: adds the incoming gradient into ``leaf.grad``."""

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

    def _release(self):
        pass

    def __repr__(self):
        return f"<AccumulateGrad object at {hex(id(self))}>"
