"""``DataParallel``: torch's single-process multi-device wrapper.

On a machine without an accelerator it is a pass-through (torch's behaviour on the CPU),
keeping torch's surface: ``.module`` and the ``module.``-prefixed state_dict. With several
devices of one type (``device_ids=[0, 1]`` on a two-GPU machine) each forward runs torch's
four steps:

* ``scatter``: every tensor argument is cut along ``dim`` into ``len(device_ids)`` chunks
  (``Tensor.chunk``: fewer chunks when the batch is small, and then fewer replicas run),
  each moved to its device by the differentiable ``Tensor.to``; other arguments repeat;
* ``replicate``: a shallow copy of the module tree per device whose parameters and buffers
  are ``Tensor.to`` copies on that device, so backward sums each replica's gradient into
  the original parameter's ``.grad`` (what torch's ``Broadcast`` function does). The copy
  on ``device_ids[0]`` uses the original tensors, so in-place buffer updates there (batch
  norm's running statistics) are kept, as torch guarantees;
* ``parallel_apply``: each replica runs on its chunk with its device current;
* ``gather``: the outputs (tensors, or tuples, lists, dicts of them) moved to
  ``output_device`` and concatenated along ``dim``, differentiably.

The replicas run one after the other, not in threads as torch's do: zerograd dispatches
every op in Python holding the GIL, and a GPU runs the kernels queued on it asynchronously,
so threads would mostly take turns; and what zerograd keeps per thread (grad mode,
saved-tensor hooks, forward-mode AD levels) applies to every replica as it does to the
module, with nothing to hand over to worker threads. ``DistributedDataParallel`` (one
process per device) is what scales.
"""
import contextlib
import warnings
from itertools import chain

from zerograd import backend as _backend
from zerograd.autograd.grad_mode import is_grad_enabled
from zerograd.device import device as _device
from zerograd.device import same_device
from zerograd.nn.modules.module import Module
from zerograd.ops.join import cat
from zerograd.tensor import Tensor

__all__ = ["DataParallel", "replicate", "scatter", "scatter_kwargs", "gather", "parallel_apply"]


class DataParallel(Module):
    """Split the batch across ``device_ids``, run a replica of ``module`` on each part and
    gather the outputs on ``output_device`` (default ``device_ids[0]``).

    ``device_ids`` are indices (of CUDA devices) or devices; None means every device of the
    machine's accelerator. Without an accelerator (the CPU) the module is called unchanged.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module
        self.dim = dim
        device_type = _accelerator_type(device_ids)
        if device_type is None:  # torch: DataParallel on the CPU just calls the module
            self.device_ids = []
            self.output_device = None
            return
        if device_ids is None:
            device_ids = list(range(_backend.get(device_type).device_count()))
            if not device_ids:
                raise RuntimeError("no available devices were found")
        if len(device_ids) == 0:
            raise ValueError("DataParallel: device_ids is empty; name the devices to use "
                             "(e.g. device_ids=[0, 1]) or pass None for all of them")
        self._device_type = device_type
        self.device_ids = [_device_index(d, device_type) for d in device_ids]
        self.output_device = _device_index(
            self.device_ids[0] if output_device is None else output_device, device_type)
        self.src_device_obj = _device(device_type, self.device_ids[0])
        if len(self.device_ids) == 1:
            self.module.to(self.src_device_obj)

    def forward(self, *inputs, **kwargs):
        if not self.device_ids:
            return self.module(*inputs, **kwargs)
        for t in chain(self.module.parameters(), self.module.buffers()):
            if not same_device(t.device, self.src_device_obj):
                raise RuntimeError(
                    "module must have its parameters and buffers on device "
                    f"{self.src_device_obj} (device_ids[0]) but found one of them on device: "
                    f"{t.device}")
        inputs, module_kwargs = self.scatter(inputs, kwargs, self.device_ids)
        if not inputs and not module_kwargs:
            inputs, module_kwargs = ((),), ({},)
        if len(self.device_ids) == 1:
            with _device_guard(self.src_device_obj):
                return self.module(*inputs[0], **module_kwargs[0])
        replicas = self.replicate(self.module, self.device_ids[:len(inputs)])
        outputs = self.parallel_apply(replicas, inputs, module_kwargs)
        return self.gather(outputs, self.output_device)

    # torch's four overridable steps; device ids here are indices of ``device_ids``' type
    def replicate(self, module, device_ids):
        return replicate(module, self._devices(device_ids), not is_grad_enabled())

    def scatter(self, inputs, kwargs, device_ids):
        return scatter_kwargs(inputs, kwargs, self._devices(device_ids), dim=self.dim)

    def parallel_apply(self, replicas, inputs, kwargs):
        return parallel_apply(replicas, inputs, kwargs,
                              self._devices(self.device_ids[:len(replicas)]))

    def gather(self, outputs, output_device):
        return gather(outputs, self._devices([output_device])[0], dim=self.dim)

    def _devices(self, ids):
        return [_device(self._device_type, i) if isinstance(i, int) else _device(i)
                for i in ids]


# -- which devices ---------------------------------------------------------------------------
def _accelerator_type(device_ids):
    """The device type DataParallel runs on, or None for the CPU (a pass-through).

    torch asks which accelerator the machine has (CUDA first) and ignores ``device_ids``
    where it has none, so d2l's ``device_ids=[cpu]`` runs on the CPU. Devices named in
    ``device_ids`` (``"cuda:1"``, or another registered type such as the tests' stand-in)
    pick their type first, where the machine has it."""
    named = {_device(d).type for d in device_ids or ()
             if isinstance(d, (str, _device))} - {"cpu"}
    if len(named) > 1:
        raise ValueError(f"device_ids must be devices of one type, got {', '.join(sorted(named))}")
    for device_type in (*named, "cuda"):
        try:
            _backend.get(device_type)
        except RuntimeError:  # no such device on this machine
            continue
        return device_type
    return None


def _device_index(dev, device_type):
    """torch's ``_get_device_index`` for DataParallel's ids: an int as is, a device's index
    (the current device where it has none); a CPU device is refused as torch does."""
    if isinstance(dev, (str, _device)):
        d = _device(dev)
        if d.type == "cpu":
            raise ValueError(f"Expected a non cpu device, but got: {d}")
        if d.type != device_type:
            raise ValueError(f"device_ids must be devices of one type: got {d} among "
                             f"{device_type} devices")
        index = d.index if d.index is not None else _current_index(device_type)
    elif isinstance(dev, int) and not isinstance(dev, bool):
        index = dev
    else:
        raise ValueError(f"Expected a device with a specified index or an integer, but got: "
                         f"{dev!r}")
    count = _backend.get(device_type).device_count()
    if not 0 <= index < count:
        raise RuntimeError(f"invalid device ordinal {device_type}:{index} in DataParallel: this "
                           f"machine has {count} {device_type} device(s)")
    return index


def _current_index(device_type):
    if device_type == "cuda":
        from zerograd import cuda
        return cuda.current_device()
    return 0


def _device_guard(dev):
    """``dev`` made the current device of its type for a block (``Backend.device_guard``;
    nothing for the CPU): CuPy allocates and launches on the current device, so a replica's
    scratch arrays must land on its own device."""
    index = dev.index if dev.index is not None else _current_index(dev.type)
    return _backend.get(dev.type).device_guard(index)


# -- the four steps (torch.nn.parallel's functions, on zerograd devices) --------------------
def _is_namedtuple(obj):
    return isinstance(obj, tuple) and hasattr(obj, "_asdict") and hasattr(obj, "_fields")


def scatter(inputs, target_devices, dim=0):
    """Cut the tensors in ``inputs`` along ``dim`` into a chunk per device (as
    ``Tensor.chunk`` cuts: fewer when the size is small), each moved to its device; tuples,
    lists and dicts are scattered item by item, other objects repeated. A list with one
    entry per chunk."""
    def scatter_map(obj):
        if isinstance(obj, Tensor):
            return [c.to(d) for c, d in zip(obj.chunk(len(target_devices), dim), target_devices)]
        if _is_namedtuple(obj):
            return [type(obj)(*args) for args in zip(*map(scatter_map, obj))]
        if isinstance(obj, tuple) and len(obj) > 0:
            return list(zip(*map(scatter_map, obj)))
        if isinstance(obj, list) and len(obj) > 0:
            return [list(i) for i in zip(*map(scatter_map, obj))]
        if isinstance(obj, dict) and len(obj) > 0:
            return [type(obj)(i) for i in zip(*map(scatter_map, obj.items()))]
        return [obj for _ in target_devices]
    return scatter_map(inputs)


def scatter_kwargs(inputs, kwargs, target_devices, dim=0):
    """``scatter`` of the positional and of the keyword arguments: a tuple of argument
    tuples and a tuple of kwargs dicts, one of each per replica.

    Where one side is empty it is padded with ``()`` / ``{}`` as torch does. Where both
    have entries but a different number (a small batch in one, only non-tensors in the
    other), both are cut to the shorter, as ``scatter`` cuts the items of one tuple: torch
    instead pads, handing a replica keyword arguments without its positional ones."""
    scattered_inputs = scatter(inputs, target_devices, dim) if inputs else []
    scattered_kwargs = scatter(kwargs, target_devices, dim) if kwargs else []
    if scattered_inputs and scattered_kwargs:
        n = min(len(scattered_inputs), len(scattered_kwargs))
        scattered_inputs, scattered_kwargs = scattered_inputs[:n], scattered_kwargs[:n]
    elif scattered_kwargs:
        scattered_inputs = [() for _ in scattered_kwargs]
    else:
        scattered_kwargs = [{} for _ in scattered_inputs]
    return tuple(scattered_inputs), tuple(scattered_kwargs)


def replicate(network, devices, detach=False):
    """A replica of ``network`` per device: shallow copies of its modules (sharing their
    attributes and hooks) whose parameters and buffers are copies on that device.

    The copies are ``Tensor.to`` results, so gradients flow back to the original
    parameters (``detach=True``: no graph, for forwards without grad). On the original's
    own device the originals themselves are used. A replica's parameters are plain
    attributes, not registered: ``replica.parameters()`` is empty, as in torch."""
    devices = [_device(d) for d in devices]
    if not devices:
        return []
    copies = {}  # id(original tensor) -> its copy per device (shared weights stay shared)
    for p in network.parameters():
        copies[id(p)] = [_copy_to(p, d, detach) for d in devices]
    for b in network.buffers():
        copies[id(b)] = [_copy_to(b, d, detach or not b.requires_grad) for d in devices]
    modules = list(network.modules())
    replicas = {id(m): [_shallow_replica(m) for _ in devices] for m in modules}
    for m in modules:
        for j, replica in enumerate(replicas[id(m)]):
            for key, child in m._modules.items():
                replica._modules[key] = None if child is None else replicas[id(child)][j]
            for key, p in m._parameters.items():
                if p is None:
                    replica._parameters[key] = None
                else:  # an attribute, as torch's replicas hold their (non-leaf) copies
                    object.__setattr__(replica, key, copies[id(p)][j])
            for key, b in m._buffers.items():
                replica._buffers[key] = None if b is None else copies[id(b)][j]
    return replicas[id(network)]


def _copy_to(tensor, dev, detach):
    if same_device(tensor.device, dev):
        return tensor  # torch: the source device's replica shares the original's storage
    return (tensor.detach() if detach else tensor).to(dev)


def _shallow_replica(module):
    """torch's ``Module._replicate_for_data_parallel``: the same attributes, fresh tables."""
    replica = module.__new__(type(module))
    state = module.__dict__.copy()
    state["_parameters"] = {}  # the copies become plain attributes (see replicate)
    state["_buffers"] = dict(module._buffers)
    state["_modules"] = dict(module._modules)
    state["_is_replica"] = True
    object.__setattr__(replica, "__dict__", state)
    return replica


def parallel_apply(modules, inputs, kwargs_tup=None, devices=None):
    """``modules[i](*inputs[i], **kwargs_tup[i])`` with ``devices[i]`` (default: the device
    of the first tensor in ``inputs[i]``) as the current device; the list of outputs.

    The replicas run one after the other (see the module's docstring); an exception names
    the replica and device it came from, as torch's message does."""
    if len(modules) != len(inputs):
        raise ValueError(f"The number of modules {len(modules)} is not equal to the number of "
                         f"inputs {len(inputs)}")
    kwargs_tup = ({},) * len(modules) if kwargs_tup is None else kwargs_tup
    if len(kwargs_tup) != len(modules):
        raise ValueError(f"The number of modules {len(modules)} is not equal to the number of "
                         f"kwargs {len(kwargs_tup)}")
    devices = [None] * len(modules) if devices is None else [_device(d) for d in devices]
    outputs = []
    for i, (module, args, kwargs, dev) in enumerate(zip(modules, inputs, kwargs_tup, devices)):
        if not isinstance(args, (list, tuple)):
            args = (args,)
        dev = dev if dev is not None else _first_tensor_device((args, kwargs))
        try:
            with contextlib.nullcontext() if dev is None else _device_guard(dev):
                outputs.append(module(*args, **kwargs))
        except Exception as err:
            err.add_note(f"Caught in replica {i} on device {dev}.")
            raise
    return outputs


def _first_tensor_device(obj):
    if isinstance(obj, Tensor):
        return obj.device
    items = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, (list, tuple)) \
        else ()
    for item in items:
        found = _first_tensor_device(item)
        if found is not None:
            return found
    return None


def gather(outputs, target_device, dim=0):
    """The replicas' ``outputs`` as one: tensors moved to ``target_device`` and concatenated
    along ``dim`` (0-d tensors become a vector, with torch's warning); dicts, named tuples,
    tuples and lists gathered item by item; None stays None."""
    target = _device(target_device)

    def gather_map(outputs):
        out = outputs[0]
        if isinstance(out, Tensor):
            return _gather_tensors(outputs, target, dim)
        if out is None:
            return None
        if isinstance(out, dict):
            if not all(len(out) == len(d) for d in outputs):
                raise ValueError("All dicts must have the same number of keys")
            return type(out)((k, gather_map([d[k] for d in outputs])) for k in out)
        if _is_namedtuple(out):
            return type(out)._make(map(gather_map, zip(*outputs, strict=True)))
        return type(out)(map(gather_map, zip(*outputs, strict=True)))
    return gather_map(outputs)


def _gather_tensors(tensors, target, dim):
    if dim == 0 and all(t.dim() == 0 for t in tensors):
        warnings.warn("Was asked to gather along dimension 0, but all input tensors were "
                      "scalars; will instead unsqueeze and return a vector.", stacklevel=3)
        tensors = [t.reshape(1) for t in tensors]
    with _device_guard(target):
        return cat([t.to(target) for t in tensors], dim)
