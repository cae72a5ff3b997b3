"""DistributedDataParallel over fastad.distributed (MPI).

Each rank runs the module on its part of the batch; after backward every
parameter's .grad is the average over the ranks, so an optimiser step gives the
same parameters everywhere, equal to one process training on the whole batch.

Gradients travel in buckets (about bucket_cap_mb each, parameters in reverse
order, as PyTorch fills them): a parameter's post-accumulate-grad hook marks it
ready; a bucket whose parameters are all ready is copied (scaled by 1/world
size in the same pass) into its flat buffer and all-reduced in place with a
non-blocking Iallreduce, buckets launched in the same order on every rank.
The hook that completes the last bucket waits for all of them and hands the
averages back to .grad.  fastad's backward deposits a leaf's gradient (and
runs its hooks) as soon as the sweep has passed the leaf's first use, so the
last layers' buckets are all-reduced while the first layers' gradients are
still being computed (each hook tests the launched buckets, since MPI moves a
non-blocking collective along only inside its calls).
"""
import contextlib
import weakref

import numpy as np

import fastad
from fastad import distributed as dist
from fastad.nn.modules import Module

__all__ = ["DistributedDataParallel"]


class _Bucket:
    def __init__(self, indices, params, dtype):
        self.indices = indices
        self.params = params
        self.views = []
        self.flat = np.zeros(sum(p.numel() for p in params), dtype=dtype)
        offset = 0
        for p in params:
            self.views.append(self.flat[offset:offset + p.numel()].reshape(tuple(p.shape)))
            offset += p.numel()
        self.ready = 0
        self.work = None


class DistributedDataParallel(Module):
    """Wraps module for data-parallel training: parameters broadcast from rank 0
    at construction, gradients averaged over the ranks during backward."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=True, process_group=None, bucket_cap_mb=None,
                 find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False,
                 delay_all_reduce_named_params=None,
                 param_to_hook_all_reduce=None, mixed_precision=None, device_mesh=None,
                 skip_all_reduce_unused_params=False):
        super().__init__()
        group = dist._default()
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.require_backward_grad_sync = True
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 1024 * 1024)
        params = [p for p in module.parameters() if p.requires_grad]
        arrays = [p.detach().numpy() for p in params]
        dist._check_same(group, "DistributedDataParallel", arrays)
        with fastad.no_grad():
            works = [dist.broadcast(p, 0, async_op=True) for p in params]
            works += self._buffer_broadcasts()
        for w in works:
            w.wait()
        self._group = group
        self._params = params
        self._buckets, self._bucket_of = self._assign_buckets(params)
        self._next = 0           # first bucket not yet launched this backward
        self._used = np.zeros(len(params), dtype=np.int64)
        self._sentinel = None
        if find_unused_parameters:
            self._sentinel = fastad.zeros((), requires_grad=True)
        # the hooks see the reducer through a weak reference: a tensor's hooks are
        # outside the cycle collector's view, and must not keep the wrapper alive
        me = weakref.ref(self)
        for i, p in enumerate(params):
            p.register_post_accumulate_grad_hook(lambda t, i=i: _ready(me, i))
        if self._sentinel is not None:
            self._sentinel.register_post_accumulate_grad_hook(lambda t: _end(me))

    def _assign_buckets(self, params):
        buckets, bucket_of = [], {}
        current, size, dtype = [], 0, None
        for i in reversed(range(len(params))):
            p = params[i]
            nbytes = p.numel() * p.element_size()
            pdtype = p.detach().numpy().dtype
            if current and (size + nbytes > self.bucket_bytes_cap or pdtype != dtype):
                buckets.append((current, dtype))
                current, size = [], 0
            current.append(i)
            size += nbytes
            dtype = pdtype
        if current:
            buckets.append((current, dtype))
        out = []
        for b, (indices, dtype) in enumerate(buckets):
            out.append(_Bucket(indices, [params[i] for i in indices], dtype))
            for i in indices:
                bucket_of[i] = b
        return out, bucket_of

    def _buffer_broadcasts(self):
        if not self.broadcast_buffers or dist.get_world_size() == 1:
            return []
        return [dist.broadcast(b, 0, async_op=True) for b in self.module.buffers()
                if isinstance(b, fastad.Tensor)]

    def forward(self, *inputs, **kwargs):
        if self._next or any(b.ready for b in self._buckets):
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a new "
                "one. This error indicates that your module has parameters that were not used in "
                "producing loss. You can enable unused parameter detection by passing the keyword "
                "argument `find_unused_parameters=True` to `torch.nn.parallel."
                "DistributedDataParallel`, and by making sure all `forward` function outputs "
                "participate in calculating loss.")
        if self.training:
            with fastad.no_grad():
                for w in self._buffer_broadcasts():
                    w.wait()
        syncing = fastad.is_grad_enabled() and self.require_backward_grad_sync
        if self._sentinel is None or not syncing:
            return self.module(*inputs, **kwargs)
        # the sentinel is the first leaf this forward records, so its hook runs after every
        # other leaf's: the end of backward, where unused parameters are known
        mark = self._sentinel * 1.0
        out = self.module(*inputs, **kwargs)
        return _attach(out, mark)

    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes inside accumulate gradients locally, without averaging."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    # ---- the reducer
    def _mark_ready(self, i):
        if not self.require_backward_grad_sync:
            return
        self._used[i] = 1
        # MPI advances a non-blocking collective only inside MPI calls: a test from
        # each hook moves the launched buckets along while backward runs
        for bucket in self._buckets[:self._next]:
            bucket.work.is_completed()
        b = self._bucket_of[i]
        bucket = self._buckets[b]
        bucket.ready += 1
        if bucket.ready == len(bucket.params):
            self._launch_ready()
            if self._sentinel is None and self._next == len(self._buckets):
                self._finish()

    def _launch_ready(self):
        while self._next < len(self._buckets):
            bucket = self._buckets[self._next]
            if bucket.ready < len(bucket.params):
                return
            scale = 1.0 / self._group.size
            for p, view in zip(bucket.params, bucket.views):
                if p.grad is None:
                    view[...] = 0
                else:
                    np.multiply(p.grad.numpy(), scale, out=view)
            bucket.work = dist._allreduce(self._group, bucket.flat, dist.ReduceOp.SUM, True)
            self._next += 1

    def _end_of_backward(self):
        """find_unused_parameters: the parameters no hook marked are ready with
        zeros; a .grad is set where any rank used the parameter."""
        if not self.require_backward_grad_sync:
            return
        for i in range(len(self._params)):
            if not self._used[i]:
                b = self._buckets[self._bucket_of[i]]
                b.ready += 1
        self._launch_ready()
        anywhere = self._used.copy()
        dist._allreduce(self._group, anywhere, dist.ReduceOp.MAX, True).wait()
        self._finish(anywhere)

    def _finish(self, anywhere=None):
        for bucket in self._buckets:
            bucket.work.wait()
        for bucket in self._buckets:
            for i, p, view in zip(bucket.indices, bucket.params, bucket.views):
                if anywhere is not None and not anywhere[i]:
                    continue
                if p.grad is not None and p.grad.ndim == 0:
                    p.grad.fill_(view.item())   # a 0-d tensor's value is not in an array
                elif (self.gradient_as_bucket_view or p.grad is None
                      or not p.grad.numpy().flags.writeable):
                    p.grad = fastad.from_numpy(view if self.gradient_as_bucket_view
                                               else view.copy())
                else:
                    np.copyto(p.grad.numpy(), view)
            bucket.ready = 0
            bucket.work = None
        self._next = 0
        self._used[:] = 0


def _ready(ref, i):
    ddp = ref()
    if ddp is not None:
        ddp._mark_ready(i)


def _end(ref):
    ddp = ref()
    if ddp is not None:
        ddp._end_of_backward()


def _attach(out, mark):
    """out with mark * 0 added to its first tensor that requires grad (the same
    values; the backward reaches mark)."""
    if isinstance(out, fastad.Tensor):
        return out + mark * 0.0 if out.requires_grad else out
    if isinstance(out, (tuple, list)):
        items = list(out)
        for k, o in enumerate(items):
            if isinstance(o, fastad.Tensor) and o.requires_grad:
                items[k] = o + mark * 0.0
                return type(out)(items) if isinstance(out, list) else tuple(items)
        return out
    if isinstance(out, dict):
        for k, o in out.items():
            if isinstance(o, fastad.Tensor) and o.requires_grad:
                return {**out, k: o + mark * 0.0}
    return out
