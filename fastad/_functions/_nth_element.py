"""The order of PyTorch's CPU topk(sorted=False): its kernel (TopKImpl.h) runs
libstdc++'s std::partial_sort (k * 64 <= n) or std::nth_element over (value,
index) pairs, comparing values only, and returns the first k pairs as that
leaves them.  Ported step for step (introselect: median-of-three pivots,
unguarded partitions, a heap select past the depth limit, insertion sort
below four elements; the heap select and sort of partial_sort), so the indices
equal PyTorch's, ties included.  Elements compare by integer keys, a < b
meaning "a goes first"."""
import numpy as np


def first_k(keys, k):
    """The positions PyTorch's topk(sorted=False) returns for one row of keys (a
    sequence of ints)."""
    v = list(zip(keys, range(len(keys))))
    n = len(v)
    if k == 0:
        return []
    if k * 64 <= n:
        _heap_select(v, 0, k, n)
        for end in range(k - 1, 0, -1):     # sort_heap
            val, v[end] = v[end], v[0]
            _adjust_heap(v, 0, 0, end, val)
    else:
        _introselect(v, 0, k - 1, n, 2 * (n.bit_length() - 1))
    return [i for _, i in v[:k]]


def order_keys(m, largest):
    """Integer keys of the rows of m (last axis) in nth_element's comparison
    order: NaN before (largest) or after every number, equal values equal."""
    _, rank = np.unique(m, return_inverse=True)   # NaNs equal, ranked last
    rank = rank.reshape(m.shape)
    return -rank if largest else rank


def _introselect(v, first, nth, last, depth):
    while last - first > 3:
        if depth == 0:
            _heap_select(v, first, nth + 1, last)
            v[first], v[nth] = v[nth], v[first]
            return
        depth -= 1
        cut = _partition_pivot(v, first, last)
        if cut <= nth:
            first = cut
        else:
            last = cut
    _insertion_sort(v, first, last)


def _partition_pivot(v, first, last):
    mid = first + (last - first) // 2
    a, b, c = first + 1, mid, last - 1
    if v[a][0] < v[b][0]:
        pick = b if v[b][0] < v[c][0] else (c if v[a][0] < v[c][0] else a)
    else:
        pick = a if v[a][0] < v[c][0] else (c if v[b][0] < v[c][0] else b)
    v[first], v[pick] = v[pick], v[first]
    pivot = v[first][0]
    lo, hi = first + 1, last
    while True:
        while v[lo][0] < pivot:
            lo += 1
        hi -= 1
        while pivot < v[hi][0]:
            hi -= 1
        if not lo < hi:
            return lo
        v[lo], v[hi] = v[hi], v[lo]
        lo += 1


def _insertion_sort(v, first, last):
    for i in range(first + 1, last):
        val = v[i]
        if val[0] < v[first][0]:
            v[first + 1:i + 1] = v[first:i]
            v[first] = val
        else:
            j = i
            while val[0] < v[j - 1][0]:
                v[j] = v[j - 1]
                j -= 1
            v[j] = val


def _heap_select(v, first, middle, last):
    n = middle - first
    for parent in range((n - 2) // 2, -1, -1):
        _adjust_heap(v, first, parent, n, v[first + parent])
    for i in range(middle, last):
        if v[i][0] < v[first][0]:
            val, v[i] = v[i], v[first]
            _adjust_heap(v, first, 0, n, val)


def _adjust_heap(v, first, hole, n, val):
    top = hole
    child = hole
    while child < (n - 1) // 2:
        child = 2 * (child + 1)
        if v[first + child][0] < v[first + child - 1][0]:
            child -= 1
        v[first + hole] = v[first + child]
        hole = child
    if n % 2 == 0 and child == (n - 2) // 2:
        child = 2 * (child + 1)
        v[first + hole] = v[first + child - 1]
        hole = child - 1
    parent = (hole - 1) // 2
    while hole > top and v[first + parent][0] < val[0]:
        v[first + hole] = v[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    v[first + hole] = val
