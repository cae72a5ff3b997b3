"""DataLoader, as torch.utils.data.DataLoader: batches from a dataset, in this
process or in worker processes."""
import collections
import multiprocessing
import queue
import random
import traceback

import fastad
from fastad.utils.data import _random
from fastad.utils.data.collate import default_collate, default_convert
from fastad.utils.data.dataset import IterableDataset
from fastad.utils.data.sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader", "get_worker_info"]

_worker_info = None
_POLL = 5.0   # seconds between checks that the workers are alive while waiting


class WorkerInfo:
    """What get_worker_info() returns inside a worker process."""

    def __init__(self, id, num_workers, seed, dataset):
        self.id, self.num_workers, self.seed, self.dataset = id, num_workers, seed, dataset

    def __repr__(self):
        return (f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed}, "
                f"dataset={self.dataset!r})")


def get_worker_info():
    """This worker's WorkerInfo in a DataLoader worker process, None elsewhere."""
    return _worker_info


class DataLoader:
    """Iterates over batches of dataset: samples chosen by sampler (or
    batch_sampler), gathered batch_size at a time and merged by collate_fn."""

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                             "let num_workers > 0 to enable multiprocessing, otherwise set "
                             "prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory     # accepted: every tensor is already in CPU memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self.generator = generator
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            for name, value in (("shuffle", shuffle), ("sampler", sampler),
                                ("batch_sampler", batch_sampler)):
                if value not in (None, False):
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                     f"{name} option, but got {name}={value}")
        elif shuffle not in (None, False) and sampler is not None:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None and not self._iterable:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None or (self._iterable and self.batch_size is not None)

    @property
    def _index_sampler(self):
        return self.batch_sampler if self.batch_sampler is not None else self.sampler

    def __len__(self):
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
            return n
        return len(self._index_sampler)

    def __iter__(self):
        # one draw from the loader's generator per epoch, as PyTorch's base seed of the workers
        base_seed = _random.seed(self.generator)
        if self.num_workers == 0:
            return iter(_batches(self._fetcher(), None if self._iterable
                                 else iter(self._index_sampler)))
        return _WorkerIter(self, base_seed)

    def _fetcher(self):
        return _Fetcher(self.dataset, self._iterable, self._auto_collation, self.collate_fn,
                        self.batch_size, self.drop_last)


class _Fetcher:
    """Makes one batch: from a list of indices (map-style datasets) or from the
    next samples of the dataset's iterator (iterable datasets)."""

    def __init__(self, dataset, iterable, auto_collation, collate_fn, batch_size, drop_last):
        self.dataset, self.auto_collation, self.collate_fn = dataset, auto_collation, collate_fn
        self.batch_size, self.drop_last = batch_size, drop_last
        # created on the first batch, so a worker's iter(dataset) sees its get_worker_info()
        self.it = _LazyIter(dataset) if iterable else None

    def __call__(self, index=None):
        """The next batch; StopIteration when an iterable dataset has no more."""
        if self.it is not None:
            if not self.auto_collation:
                return self.collate_fn(next(self.it))
            data = [x for _, x in zip(range(self.batch_size), self.it)]
            if not data or (self.drop_last and len(data) < self.batch_size):
                raise StopIteration
            return self.collate_fn(data)
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        getitems = getattr(self.dataset, "__getitems__", None)
        data = getitems(index) if callable(getitems) else [self.dataset[i] for i in index]
        return self.collate_fn(data)


def _batches(fetch, indices):
    if indices is None:
        while True:
            try:
                batch = fetch()
            except StopIteration:
                return
            yield batch
    for index in indices:
        yield fetch(index)


# ---------------------------------------------------------------- worker processes
class _Exhausted:
    """A worker's answer when its copy of an iterable dataset has no more batches."""


class _Failure:
    """An exception raised in a worker, re-raised by the loader with its traceback."""

    def __init__(self, worker_id, exc):
        self.exc_type = type(exc)
        self.message = (f"Caught {type(exc).__name__} in DataLoader worker process {worker_id}.\n"
                        f"Original {traceback.format_exc()}")

    def reraise(self):
        try:
            err = self.exc_type(self.message)
        except Exception:
            err = RuntimeError(self.message)
        raise err


def _worker_loop(fetcher, tasks, results, worker_id, num_workers, seed, init_fn):
    global _worker_info
    fastad.set_num_threads(1)   # the workers share the cores with the training process
    fastad.manual_seed(seed)
    random.seed(seed)
    _worker_info = WorkerInfo(worker_id, num_workers, seed, fetcher.dataset)
    try:
        if init_fn is not None:
            init_fn(worker_id)
    except Exception as e:
        results.put(_Failure(worker_id, e))
        return
    exhausted = False
    while True:
        task = tasks.get()
        if task is None:
            return
        if exhausted:
            results.put(_Exhausted)
            continue
        try:
            results.put(fetcher(task))
        except StopIteration:
            exhausted = True
            results.put(_Exhausted)
        except Exception as e:
            results.put(_Failure(worker_id, e))


class _WorkerIter:
    """Batches made by num_workers processes, handed out in the sampler's order:
    batch k is made by the k-th worker in turn (skipping workers whose iterable
    dataset ran out), prefetch_factor batches ahead per worker."""

    def __init__(self, loader, base_seed):
        ctx = loader.multiprocessing_context
        if ctx is None or isinstance(ctx, str):
            ctx = multiprocessing.get_context(ctx)
        self.timeout = loader.timeout
        self.indices = None if loader._iterable else iter(loader._index_sampler)
        n = loader.num_workers
        self.tasks = [ctx.Queue() for _ in range(n)]
        self.results = [ctx.Queue() for _ in range(n)]
        self.workers = []
        for w in range(n):
            p = ctx.Process(target=_worker_loop, daemon=True,
                            args=(loader._fetcher(), self.tasks[w], self.results[w], w, n,
                                  base_seed + w, loader.worker_init_fn))
            p.start()
            self.workers.append(p)
        self.active = list(range(n))
        self.turn = 0
        self.pending = collections.deque()   # worker of each batch asked for, oldest first
        for _ in range(loader.prefetch_factor * n):
            self._ask()

    def _ask(self):
        if not self.active:
            return
        if self.indices is None:
            task = True
        else:
            task = next(self.indices, None)
            if task is None:
                return
        w = self.active[self.turn % len(self.active)]
        self.turn += 1
        self.tasks[w].put(task)
        self.pending.append(w)

    def __iter__(self):
        return self

    def __next__(self):
        while self.pending:
            w = self.pending.popleft()
            result = self._get(w)
            if result is _Exhausted:
                self.active.remove(w)
                self.pending = collections.deque(x for x in self.pending if x != w)
                self._ask()
                continue
            if isinstance(result, _Failure):
                self.close()
                result.reraise()
            self._ask()
            return result
        self.close()
        raise StopIteration

    def _get(self, w):
        while True:
            step = self.timeout if self.timeout > 0 else _POLL
            try:
                return self.results[w].get(timeout=step)
            except queue.Empty:
                if self.timeout > 0:
                    self.close()
                    raise RuntimeError(f"DataLoader timed out after {self.timeout} seconds")
                if not self.workers[w].is_alive():
                    pid = self.workers[w].pid
                    self.close()
                    raise RuntimeError(f"DataLoader worker (pid(s) {pid}) exited unexpectedly")

    def close(self):
        for q, p in zip(self.tasks, self.workers):
            if p.is_alive():
                q.put(None)
        for p in self.workers:
            p.join(timeout=1.0)
            if p.is_alive():
                p.terminate()
        self.workers = []
        self.pending.clear()
        self.active = []

    def __del__(self):
        if getattr(self, "workers", None):
            self.close()


class _LazyIter:
    """iter(dataset), started in the worker on the first batch asked for."""

    def __init__(self, dataset):
        self.dataset, self.it = dataset, None

    def __iter__(self):
        return self

    def __next__(self):
        if self.it is None:
            self.it = iter(self.dataset)
        return next(self.it)
