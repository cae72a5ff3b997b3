"""fastad.utils.data against torch.utils.data: datasets, samplers, collation and
the DataLoader (in this process and with worker processes).  Random orders
equal PyTorch's for the same seed (fastad's PyTorch-exact generator)."""
import collections
import warnings

import numpy as np
import pytest

import fastad
from fastad.utils import data as D


def _torch():
    return pytest.importorskip("torch")


def _same(f, t):
    """A fastad batch equals a torch batch: container types, dtypes, values."""
    torch = _torch()
    if isinstance(t, torch.Tensor):
        assert isinstance(f, fastad.Tensor), type(f)
        assert str(f.dtype).replace("fastad.", "torch.") == str(t.dtype), (f.dtype, t.dtype)
        assert tuple(f.shape) == tuple(t.shape)
        np.testing.assert_array_equal(np.asarray(f.numpy()), t.numpy())
    elif isinstance(t, dict):
        assert type(f) is type(t) and list(f) == list(t)
        for k in t:
            _same(f[k], t[k])
    elif isinstance(t, (list, tuple)):
        assert type(f).__name__ == type(t).__name__ and len(f) == len(t)
        for a, b in zip(f, t):
            _same(a, b)
    else:
        assert f == t


class _Rows:
    """A map-style dataset of samples of every kind default_collate knows."""
    Point = collections.namedtuple("Point", "x y")

    def __init__(self, lib, n=7):
        self.lib, self.n = lib, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        a = np.arange(6, dtype=np.float32).reshape(2, 3) + i
        return {"t": self.lib.tensor([float(i), 2.0 * i]), "np": a, "f": 0.5 * i, "i": i,
                "b": i % 2 == 0, "s": f"row{i}", "np64": np.float64(i) / 3,
                "pt": self.Point(i, [i, -i]), "tup": (i, np.int64(3 * i))}


@pytest.mark.parametrize("batch_size,drop_last", [(3, False), (3, True), (7, False), (1, False)])
def test_collation_types_shapes_and_order_match_torch(batch_size, drop_last):
    torch = _torch()
    fb = list(D.DataLoader(_Rows(fastad), batch_size=batch_size, drop_last=drop_last))
    tb = list(torch.utils.data.DataLoader(_Rows(torch), batch_size=batch_size,
                                          drop_last=drop_last))
    assert len(fb) == len(tb) == len(D.DataLoader(_Rows(fastad), batch_size=batch_size,
                                                   drop_last=drop_last))
    for f, t in zip(fb, tb):
        _same(f, t)


def test_tensor_dataset_batches_and_no_auto_batching():
    torch = _torch()
    x = np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32)
    y = np.arange(10)
    fds = D.TensorDataset(fastad.tensor(x), fastad.tensor(y))
    tds = torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y))
    for kw in (dict(batch_size=4), dict(batch_size=4, drop_last=True), dict(batch_size=None)):
        fb, tb = list(D.DataLoader(fds, **kw)), list(torch.utils.data.DataLoader(tds, **kw))
        assert len(fb) == len(tb)
        for f, t in zip(fb, tb):
            _same(f, t)
    # batch_size=None: default_convert turns numpy samples into tensors
    fb = list(D.DataLoader([np.ones(2), np.zeros(2)], batch_size=None))
    tb = list(torch.utils.data.DataLoader([np.ones(2), np.zeros(2)], batch_size=None))
    for f, t in zip(fb, tb):
        _same(f, t)


def test_collate_errors_as_torch():
    torch = _torch()
    for batch in ([object(), object()], [[1, 2], [3]], [np.array(["a"]), np.array(["b"])]):
        with pytest.raises(Exception) as t_err:
            torch.utils.data.default_collate(batch)
        with pytest.raises(t_err.type, match=str(t_err.value).split(";")[0][:40]):
            D.default_collate(batch)


def test_datasets_concat_subset_stack_match_torch():
    torch = _torch()
    a, b = list(range(5)), list(range(10, 13))
    fc, tc = D.ConcatDataset([a, b]), torch.utils.data.ConcatDataset([a, b])
    assert len(fc) == len(tc) and [fc[i] for i in range(-8, 8)] == [tc[i] for i in range(-8, 8)]
    assert fc.cumulative_sizes == tc.cumulative_sizes
    with pytest.raises(ValueError, match="absolute value"):
        fc[-9]
    fs, ts = D.Subset(fc, [7, 0, 3]), torch.utils.data.Subset(tc, [7, 0, 3])
    assert [fs[i] for i in range(3)] == [ts[i] for i in range(3)] and len(fs) == len(ts)
    st = D.StackDataset(a=a, b=list("abcde"))
    assert st[2] == {"a": 2, "b": "c"} and len(st) == 5
    with pytest.raises(ValueError, match="Size mismatch"):
        D.StackDataset(a, b)
    with pytest.raises(AssertionError, match="Size mismatch"):
        D.TensorDataset(fastad.ones(3), fastad.ones(4))
    ds = D.TensorDataset(fastad.arange(4)) + D.TensorDataset(fastad.arange(2))
    assert isinstance(ds, D.ConcatDataset) and len(ds) == 6


class _Count(D.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = D.get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))

    def __len__(self):
        return self.n


def test_iterable_dataset_batches_and_chain():
    torch = _torch()
    for kw in (dict(batch_size=3), dict(batch_size=3, drop_last=True)):
        fb = [b.tolist() for b in D.DataLoader(_Count(10), **kw)]
        tb = [b.tolist() for b in torch.utils.data.DataLoader(list(range(10)), **kw)]
        assert fb == tb and len(D.DataLoader(_Count(10), **kw)) == len(tb)
    assert list(D.ChainDataset([_Count(2), _Count(3)])) == [0, 1, 0, 1, 2]
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        D.DataLoader(_Count(3), shuffle=True)


def test_loader_argument_errors_as_torch():
    torch = _torch()
    ds = list(range(6))
    bs = D.BatchSampler(D.SequentialSampler(ds), 2, False)
    cases = [dict(sampler=D.SequentialSampler(ds), shuffle=True),
             dict(batch_sampler=bs, batch_size=3), dict(batch_sampler=bs, drop_last=True),
             dict(num_workers=-1), dict(timeout=-1), dict(prefetch_factor=2),
             dict(persistent_workers=True), dict(batch_size=None, drop_last=True)]
    for kw in cases:
        tkw = {k: (torch.utils.data.SequentialSampler(ds) if k == "sampler" else
                   torch.utils.data.BatchSampler(torch.utils.data.SequentialSampler(ds), 2, False)
                   if k == "batch_sampler" else v) for k, v in kw.items()}
        with pytest.raises(ValueError) as t_err:
            torch.utils.data.DataLoader(ds, **tkw)
        with pytest.raises(ValueError) as f_err:
            D.DataLoader(ds, **kw)
        assert str(f_err.value) == str(t_err.value), kw


def test_samplers_lengths_and_index_sets_match_torch():
    torch = _torch()
    ds = list(range(11))
    pairs = [(D.SequentialSampler(ds), torch.utils.data.SequentialSampler(ds)),
             (D.RandomSampler(ds), torch.utils.data.RandomSampler(ds)),
             (D.RandomSampler(ds, num_samples=25),
              torch.utils.data.RandomSampler(ds, num_samples=25)),
             (D.RandomSampler(ds, replacement=True, num_samples=40),
              torch.utils.data.RandomSampler(ds, replacement=True, num_samples=40)),
             (D.SubsetRandomSampler([3, 5, 8]), torch.utils.data.SubsetRandomSampler([3, 5, 8]))]
    for f, t in pairs:
        fi, ti = list(f), list(t)
        assert len(f) == len(t) == len(fi) == len(ti)
        assert set(fi) <= set(ds) and all(isinstance(i, int) for i in fi)
        if not getattr(t, "replacement", False):
            assert collections.Counter(fi) == collections.Counter(ti) or len(ti) % len(ds)
    assert list(D.SequentialSampler(ds)) == ds
    assert sorted(D.RandomSampler(ds)) == ds
    assert sorted(D.SubsetRandomSampler([3, 5, 8])) == [3, 5, 8]
    r25 = collections.Counter(D.RandomSampler(ds, num_samples=25))
    assert sorted(r25.values()) == sorted(collections.Counter(
        torch.utils.data.RandomSampler(ds, num_samples=25)).values())   # 2 full passes + 3
    for drop_last in (False, True):
        f = D.BatchSampler(D.SequentialSampler(ds), 4, drop_last)
        t = torch.utils.data.BatchSampler(torch.utils.data.SequentialSampler(ds), 4, drop_last)
        assert list(f) == list(t) and len(f) == len(t)
    for bad in (dict(batch_size=0, drop_last=False), dict(batch_size=2, drop_last=1)):
        with pytest.raises(ValueError):
            D.BatchSampler(ds, **bad)
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        D.RandomSampler(ds, num_samples=0)
    with pytest.raises(TypeError, match="replacement should be a boolean"):
        D.RandomSampler(ds, replacement=1)


def test_weighted_random_sampler_distribution():
    w = [0.1, 0.0, 0.4, 0.5]
    fastad.manual_seed(0)
    draws = list(D.WeightedRandomSampler(w, 20000))
    freq = np.bincount(draws, minlength=4) / len(draws)
    np.testing.assert_allclose(freq, w, atol=0.015)   # ~4 sigma of a binomial at 20000
    assert freq[1] == 0
    once = list(D.WeightedRandomSampler([1, 1, 5, 0.1], 4, replacement=False))
    assert sorted(once) == [0, 1, 2, 3]
    with pytest.raises(RuntimeError, match="cannot sample n_sample > prob_dist"):
        list(D.WeightedRandomSampler([1, 0, 1], 4, replacement=False))
    with pytest.raises(ValueError, match="weights should be a 1d sequence"):
        D.WeightedRandomSampler([[1.0]], 1)
    assert len(D.WeightedRandomSampler(w, 7)) == 7


@pytest.mark.parametrize("lengths", [[3, 7], [0.3, 0.7], [0.5, 0.25, 0.25], [1 / 3] * 3,
                                     [0.2] * 5])
def test_random_split_lengths_match_torch(lengths):
    torch = _torch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fs = D.random_split(list(range(10)), lengths)
        ts = torch.utils.data.random_split(list(range(10)), lengths)
    assert [len(s) for s in fs] == [len(s) for s in ts]
    got = [x for s in fs for x in s]
    assert sorted(got) == list(range(10))


def test_random_split_errors_and_zero_length_warning():
    with pytest.raises(ValueError, match="Sum of input lengths"):
        D.random_split(list(range(5)), [2, 2])
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        D.random_split(list(range(2)), [0.9, 0.1])


@pytest.mark.parametrize("n", [10, 11, 12, 3])
@pytest.mark.parametrize("replicas", [2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_distributed_sampler_shards_equal_torch_without_shuffle(n, replicas, drop_last):
    _torch()
    from torch.utils.data.distributed import DistributedSampler as TS
    ds = list(range(n))
    for rank in range(replicas):
        f = D.DistributedSampler(ds, num_replicas=replicas, rank=rank, shuffle=False,
                                 drop_last=drop_last)
        t = TS(ds, num_replicas=replicas, rank=rank, shuffle=False, drop_last=drop_last)
        assert list(f) == list(t) and len(f) == len(t)


def test_distributed_sampler_shuffle_is_shared_per_epoch():
    ds = list(range(10))
    shards = lambda epoch, seed=0: [list(_epoch(D.DistributedSampler(
        ds, num_replicas=3, rank=r, seed=seed), epoch)) for r in range(3)]
    e0 = shards(0)
    assert e0 == shards(0)                              # every process draws the same order
    assert sorted(sum(e0, []))[:10] != [] and set(sum(e0, [])) == set(ds)
    assert [len(s) for s in e0] == [4, 4, 4]            # 10 padded to 12
    assert shards(1) != e0 and shards(0, seed=5) != e0
    with pytest.raises(ValueError, match="Invalid rank 3"):
        D.DistributedSampler(ds, num_replicas=3, rank=3)


def _epoch(sampler, epoch):
    sampler.set_epoch(epoch)
    return sampler


def test_a_seeded_loader_repeats_its_order():
    fastad.manual_seed(11)
    first = [b.tolist() for b in D.DataLoader(fastad.arange(9), batch_size=4, shuffle=True)]
    fastad.manual_seed(11)
    again = [b.tolist() for b in D.DataLoader(fastad.arange(9), batch_size=4, shuffle=True)]
    assert first == again and sorted(sum(first, [])) == list(range(9))


def _orders(lib, make, seed, explicit):
    """Two epochs of make(lib, generator) as lists, after manual_seed(seed);
    then one draw of the global stream (what the epochs consumed shows)."""
    lib.manual_seed(seed)
    generator = lib.Generator().manual_seed(seed + 1) if explicit else None
    it = make(lib, generator)
    epochs = [[b.tolist() if hasattr(b, "tolist") else b for b in it] for _ in range(2)]
    return epochs, lib.rand(2).tolist()


_RANDOM_ORDERS = {
    "shuffle": lambda lib, g: lib.utils.data.DataLoader(lib.arange(10), batch_size=4,
                                                        shuffle=True, generator=g),
    "shuffle_tensor_dataset": lambda lib, g: [b[0] for b in lib.utils.data.DataLoader(
        lib.utils.data.TensorDataset(lib.arange(37.0)), batch_size=8, shuffle=True,
        drop_last=True, generator=g)],
    "replacement": lambda lib, g: lib.utils.data.RandomSampler(
        range(10), replacement=True, num_samples=45, generator=g),
    "num_samples": lambda lib, g: lib.utils.data.RandomSampler(range(7), num_samples=17,
                                                               generator=g),
    "subset": lambda lib, g: lib.utils.data.SubsetRandomSampler([5, 8, 13, 21], generator=g),
    "weighted": lambda lib, g: lib.utils.data.WeightedRandomSampler(
        [0.1, 2.0, 0.5, 1.5], 12, generator=g),
    "weighted_once": lambda lib, g: lib.utils.data.WeightedRandomSampler(
        [0.1, 2.0, 0.5, 1.5], 4, replacement=False, generator=g),
    "random_split": lambda lib, g: [list(s) for s in lib.utils.data.random_split(
        range(10), [3, 7], **({} if g is None else {"generator": g}))],
}


@pytest.mark.parametrize("explicit", [False, True], ids=["global", "generator"])
@pytest.mark.parametrize("seed", [0, 1, 2147483647])
@pytest.mark.parametrize("name", sorted(_RANDOM_ORDERS))
def test_random_orders_equal_torch(name, seed, explicit):
    torch = _torch()
    make = _RANDOM_ORDERS[name]
    assert _orders(fastad, make, seed, explicit) == _orders(torch, make, seed, explicit)


def _fail_on_five(i):
    if i == 5:
        raise KeyError("five")
    return i


class _Failing(D.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        return _fail_on_five(i)


def test_workers_give_the_batches_of_one_process():
    x = fastad.tensor(np.random.default_rng(1).standard_normal((23, 3)).astype(np.float32))
    ds = D.TensorDataset(x, fastad.arange(23))
    kw = dict(batch_size=4,
              sampler=D.RandomSampler(ds, generator=fastad.Generator().manual_seed(5)))
    one = list(D.DataLoader(ds, **kw))
    kw["sampler"] = D.RandomSampler(ds, generator=fastad.Generator().manual_seed(5))
    two = list(D.DataLoader(ds, num_workers=2, **kw))
    assert len(one) == len(two) == 6
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
        assert a[1].tolist() == b[1].tolist()
    # an iterable dataset split by get_worker_info: each worker's batches in turn
    got = [b.tolist() for b in D.DataLoader(_Count(10), batch_size=2, num_workers=2)]
    assert got == [[0, 2], [1, 3], [4, 6], [5, 7], [8], [9]]
    seen = []
    loader = D.DataLoader(list(range(4)), batch_size=2, num_workers=2, pin_memory=True,
                          worker_init_fn=lambda w: seen.append(w))
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3]]


def test_worker_exception_is_reraised_with_its_class():
    with pytest.raises(KeyError, match="Caught KeyError in DataLoader worker process 1"):
        list(D.DataLoader(_Failing(), batch_size=1, num_workers=2))
    with pytest.raises(KeyError, match="five"):
        list(D.DataLoader(_Failing(), batch_size=1))


def test_public_names_match_torch():
    _torch()
    import torch.utils.data as T
    missing = {n for n in T.__all__ if not n.startswith("_") and not hasattr(D, n)}
    # datapipes are deprecated in PyTorch and left out on purpose
    assert missing <= {"DFIterDataPipe", "DataChunk", "IterDataPipe", "MapDataPipe",
                       "functional_datapipe", "guaranteed_datapipes_determinism",
                       "non_deterministic", "runtime_validation", "runtime_validation_disabled",
                       "argument_validation"}, missing
    assert set(D.__all__) <= set(T.__all__)
