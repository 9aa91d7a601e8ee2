"""``DistributedDataParallel``: one model replica per process, gradients averaged over ranks.

The reducer follows torch's: parameters are packed (in reverse registration order, the
order backward tends to produce their gradients) into buckets of about ``bucket_cap_mb``.
A post-accumulate-grad hook on every parameter copies its gradient into its bucket; when a
bucket is full its non-blocking all-reduce (``MPI_Iallreduce``) starts while backward is
still running, buckets always in the same order on every rank. A callback queued on the
autograd engine waits for them at the end of backward and writes the averages (the sums
divided by the world size, in the same pass) back into ``.grad``.

Overlap needs progress: Open MPI has no progress thread, so a started all-reduce moves only
while its process is inside an MPI call. Every gradient hook that fires while all-reduces
are in flight therefore calls ``MPI_Test`` on the oldest (one call progresses them all;
nothing is called when none is in flight), and a bucket started mid-backward finishes
before backward does (ResNet-18-small, 2 ranks: the 19 MB bucket, started a third of the
way through backward, is done within the next 4-12 hooks, long before the end).

The last bucket is different: buckets start in order, so it can start only once every
gradient is ready, when there is no backward left to hide it behind. The end-of-backward
callback all-reduces it with the blocking ``MPI_Allreduce`` (in place), whose algorithms
are faster than the non-blocking one's (Open MPI, 2 ranks, 25 MB: 16-18 ms against
24-26 ms measured). Every rank decides this the same way, as it must: MPI does not match a
blocking collective with a non-blocking one.

The other buckets all-reduce from a send buffer into a separate result buffer: Open MPI's
in-place ``MPI_Iallreduce`` first copies the whole buffer into a scratch one of the same
size (measured: 2.6 ms of the hook's time for a 19 MB bucket), so the second buffer costs
no more memory than the library's scratch and saves that copy. With
``gradient_as_bucket_view=True`` the gradients are views of one in-place buffer per bucket
instead (torch's memory-saving mode).
"""
from contextlib import contextmanager

import numpy as np

from zerograd import distributed as dist
from zerograd.autograd.variable import Variable
from zerograd.nn.modules.module import Module

__all__ = ["DistributedDataParallel"]

_FIRST_BUCKET_BYTES = 1024 * 1024  # torch's dist._DEFAULT_FIRST_BUCKET_BYTES
_UNUSED_MESSAGE = (
    "Expected to have finished reduction in the prior iteration before starting a new one. "
    "This error indicates that your module has parameters that were not used in producing "
    "loss. You can enable unused parameter detection by passing the keyword argument "
    "`find_unused_parameters=True` to `torch.nn.parallel.DistributedDataParallel`, and by \n"
    "making sure all `forward` function outputs participate in calculating loss. \n"
    "Parameter indices which did not receive grad for rank {rank}: {indices}")


class _Bucket:
    """Parameters whose gradients travel in one all-reduce, and the flat arrays they use:
    ``send`` (the gradients, copied in by the hooks) and ``buffer`` (the sums; the same
    array when the all-reduce runs in place)."""

    def __init__(self, indices, params, in_place):
        self.indices = indices
        sizes = [params[i].numel() for i in indices]
        self.buffer = np.zeros(sum(sizes), dtype=params[indices[0]]._data.dtype)
        self.send = self.buffer if in_place else np.zeros_like(self.buffer)
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.inputs = {i: _view(self.send, offsets[k], offsets[k + 1], params[i].shape)
                       for k, i in enumerate(indices)}
        self.outputs = {i: _view(self.buffer, offsets[k], offsets[k + 1], params[i].shape)
                        for k, i in enumerate(indices)}
        self.pending = len(indices)
        self.request = None

    def start(self, comm, MPI):
        """Start the non-blocking all-reduce; returns its request."""
        send = MPI.IN_PLACE if self.send is self.buffer else self.send
        self.request = comm.Iallreduce(send, self.buffer, MPI.SUM)
        return self.request

    def run(self, comm, MPI):
        """All-reduce in place, blocking (the last bucket, whose ``send`` is ``buffer``)."""
        comm.Allreduce(MPI.IN_PLACE, self.buffer, MPI.SUM)
        self.request = MPI.REQUEST_NULL


def _view(flat, start, stop, shape):
    return flat[start:stop].reshape(shape)


class DistributedDataParallel(Module):
    """Wrap ``module`` so that backward averages its gradients over all ranks."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=True, process_group=None, bucket_cap_mb=None,
                 find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False, delay_all_reduce_named_params=None,
                 param_to_hook_all_reduce=None, mixed_precision=None, device_mesh=None):
        super().__init__()
        self.module = module
        dist.get_world_size(process_group)  # torch's error when init_process_group is missing
        self.process_group = process_group
        self.device_ids = device_ids
        self.output_device = output_device
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self._params = [p for p in module.parameters() if p.requires_grad]
        self._verify_same_model()
        self._sync_module_states()
        cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 1024 * 1024)
        self._buckets = self._make_buckets(cap)
        self._bucket_of = {i: b for b in self._buckets for i in b.indices}
        self._ready = [False] * len(self._params)
        self._next_bucket = 0
        self._in_flight = []  # started all-reduces not yet seen complete, oldest first
        self._callback_queued = False
        self._hooks = [p.register_post_accumulate_grad_hook(self._make_hook(i))
                       for i, p in enumerate(self._params)]

    # -- construction ------------------------------------------------------------------------
    def _verify_same_model(self):
        shapes = [[list(p.shape), str(p.dtype)] for p in self._params]
        everyone = [None] * dist.get_world_size(self.process_group)
        dist.all_gather_object(everyone, shapes, group=self.process_group)
        for rank, theirs in enumerate(everyone):
            if theirs != shapes:
                raise RuntimeError(f"DistributedDataParallel: rank {rank} has a model with "
                                   "different parameter shapes or dtypes; DDP needs the same "
                                   "model on every rank")

    def _sync_module_states(self):
        """Every rank starts from rank 0's parameters and buffers."""
        root = dist.get_global_rank(self.process_group, 0)
        for t in list(self.module.parameters()) + list(self.module.buffers()):
            dist.broadcast(t.detach(), src=root, group=self.process_group)

    def _make_buckets(self, cap):
        """Reverse parameter order, split by dtype and size (the first bucket small, so the
        first all-reduce starts early)."""
        buckets, current, size, limit = [], [], 0, min(cap, _FIRST_BUCKET_BYTES)
        for i in reversed(range(len(self._params))):
            p = self._params[i]
            nbytes = p.numel() * p.element_size()
            if current and (size + nbytes > limit or p.dtype != self._params[current[0]].dtype):
                buckets.append(current)
                current, size, limit = [], 0, cap
            current.append(i)
            size += nbytes
        if current:
            buckets.append(current)
        last = len(buckets) - 1  # all-reduced in place, blocking (see the module's notes)
        return [_Bucket(indices, self._params, self.gradient_as_bucket_view or k == last)
                for k, indices in enumerate(buckets)]

    # -- forward -----------------------------------------------------------------------------
    def forward(self, *inputs, **kwargs):
        if self.broadcast_buffers and self.require_backward_grad_sync:
            root = dist.get_global_rank(self.process_group, 0)
            for b in self.module.buffers():
                dist.broadcast(b.detach(), src=root, group=self.process_group)
        return self.module(*inputs, **kwargs)

    @contextmanager
    def no_sync(self):
        """Backward passes inside only accumulate local gradients; the first backward after
        it averages everything accumulated."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    # -- the reducer -------------------------------------------------------------------------
    def _make_hook(self, index):
        def hook(param):
            if not self.require_backward_grad_sync:
                return
            if not self._callback_queued:
                self._callback_queued = True
                Variable._execution_engine.queue_callback(self._finish_reduction)
            self._mark_ready(index, param._grad)
        return hook

    def _mark_ready(self, index, grad):
        bucket = self._bucket_of[index]
        view = bucket.inputs[index]
        if grad is None:
            view[...] = 0
        elif not np.may_share_memory(grad._data, view):
            view[...] = dist._buffers.host_buffer(grad)[0].reshape(view.shape)
        self._ready[index] = True
        bucket.pending -= 1
        if not bucket.pending:
            self._launch_ready_buckets()
        if self._in_flight:
            self._progress()

    def _launch_ready_buckets(self):
        # In bucket order on every rank: MPI matches collectives by the order they start.
        # All but the last: that one the end-of-backward callback runs, blocking.
        comm, MPI = None, None
        while self._next_bucket < len(self._buckets) - 1:
            bucket = self._buckets[self._next_bucket]
            if bucket.pending:
                break
            if comm is None:
                comm = dist.process_group._resolve(self.process_group).comm
                MPI = dist.process_group._mpi()
            self._in_flight.append(bucket.start(comm, MPI))
            self._next_bucket += 1

    def _progress(self):
        """Let MPI move the started all-reduces (one ``MPI_Test`` progresses them all)."""
        in_flight = self._in_flight
        while in_flight and in_flight[0].Test():
            del in_flight[0]

    def _finish_reduction(self):
        try:
            unused = [i for i, ready in enumerate(self._ready) if not ready]
            if unused and not self.find_unused_parameters:
                self._reset()
                raise RuntimeError(_UNUSED_MESSAGE.format(
                    rank=dist.get_rank(self.process_group), indices=", ".join(map(str, unused))))
            for i in unused:
                self._mark_ready(i, None)
            self._buckets[-1].run(dist.process_group._resolve(self.process_group).comm,
                                  dist.process_group._mpi())
            world = dist.get_world_size(self.process_group)
            unused = set(unused)
            for bucket in self._buckets:
                bucket.request.Wait()
                if self.gradient_as_bucket_view:  # the gradients are views: average in place
                    np.divide(bucket.buffer, world, out=bucket.buffer)
                    world_left = 1
                else:
                    world_left = world
                for i in bucket.indices:
                    self._write_grad(self._params[i], bucket.outputs[i], world_left, i in unused)
        finally:
            self._reset()

    def _write_grad(self, param, total, world, was_unused):
        """``.grad`` = ``total`` / ``world``: the division writes straight into the gradient,
        one pass over the memory rather than a division and a copy."""
        from zerograd.tensor import Tensor
        if self.gradient_as_bucket_view and param._grad is not None and not was_unused:
            if not np.may_share_memory(param._grad._data, total):
                param._grad = Tensor._make(total, False, None)
            return
        if param._grad is None:
            if was_unused and not total.any():
                return  # unused everywhere (or zero): torch leaves such a grad None
            param._grad = Tensor._make(np.divide(total, world), False, None)
        elif type(param._grad._data) is np.ndarray:
            np.divide(total, world, out=param._grad._data)
        else:
            from zerograd.backend import backend_of
            param._grad._data[...] = backend_of(param._grad._data).from_host(total / world)

    def _reset(self):
        for bucket in self._buckets:
            if bucket.request is not None:
                bucket.request.Wait()
            bucket.request = None
            bucket.pending = len(bucket.indices)
        self._ready = [False] * len(self._params)
        self._next_bucket = 0
        self._in_flight = []
        self._callback_queued = False
