"""Issue 14, point 8: regression tests for the bugs found running real PyTorch
programs, each against PyTorch."""
import numpy as np
import pytest

import fastad
import fastad.nn.functional as F
from conftest import assert_same, needs_torch

pytestmark = needs_torch


@pytest.mark.parametrize("start,end,steps", [(0, 1, 10), (-3, 7, 11), (0.1, 0.9, 7), (5, -5, 100),
                                             (0, 1, 1), (2, 2, 5), (0, 1, 0), (1e-3, 1e3, 33)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_linspace_uses_torchs_two_sided_formula(start, end, steps, dtype, torch):
    f = fastad.linspace(start, end, steps, dtype=getattr(fastad, dtype))
    t = torch.linspace(start, end, steps, dtype=getattr(torch, dtype))
    assert_same(f, t, tol=dict(rtol=0, atol=0))


@pytest.mark.parametrize("start,end,steps,base", [
    (0, 3, 4, 10.0), (-2, 2, 9, 10.0), (0.1, 0.9, 7, 2.0), (5, -5, 100, 1.5), (0, 1, 1, 10.0),
    (2, 2, 5, 3.0), (0, 1, 0, 10.0), (-10, 10, 33, 2.718281828459045), (0, 40, 41, 2.0)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "float16"])
def test_logspace_is_torchs(start, end, steps, base, dtype, torch):
    # the same exponents, base ** e in double, cast once; only pow's last bit in
    # double may differ (PyTorch's vectorised pow on AVX-512 machines, libm's
    # elsewhere), below one ulp of every narrower dtype
    one_ulp = dict(rtol=np.finfo(np.float64).eps, atol=0)
    f = fastad.logspace(start, end, steps, base, dtype=getattr(fastad, dtype))
    t = torch.logspace(start, end, steps, base, dtype=getattr(torch, dtype))
    assert_same(f, t, tol=one_ulp)
    assert_same(fastad.logspace(start, end, steps=steps, base=base),
                torch.logspace(start, end, steps=steps, base=base), tol=one_ulp)


def test_float32_kernel_tails_match_torch(torch):
    """Every elementwise row of the op table over both tails: PyTorch's zeros
    stay zeros (sigmoid(-100) is 0, not the denormal exp(-100))."""
    x = np.concatenate([np.linspace(-120, 120, 4801), [-1e4, 1e4, -88.7228317, -88.72284,
                                                       -709.78, -745.2]]).astype(np.float32)
    skip = {"rrelu", "gelu_tanh", "acosh", "atanh", "asin", "acos", "log", "log2", "log10",
            "log1p", "sqrt", "rsqrt", "erfinv"}      # domains, or no torch function of the name
    for op in fastad.opdefs.UNARY:
        if op.name in skip:
            continue
        tfn = getattr(torch, op.name, None) or getattr(torch.nn.functional, op.name)
        for dtype in (np.float32, np.float64):
            a = x.astype(dtype)
            if op.name in ("sinh", "cosh"):
                a = a[np.abs(a) < 88]   # PyTorch's vectorised float sinh overflows unevenly
            ours = fastad.tensor(a)
            fo = getattr(fastad._tensor, op.name)(ours).numpy()
            to = tfn(torch.tensor(a)).numpy()
            # a zero where PyTorch has a value, or the reverse; within the last few
            # ulps of the smallest denormal (times x, for mish), exp's rounding
            # may differ by one
            differ = ((fo == 0) != (to == 0)) & (
                np.maximum(np.abs(fo), np.abs(to)) > 1e-44 * np.maximum(1, np.abs(a)))
            assert not differ.any(), (op.name, dtype, a[differ])
            np.testing.assert_allclose(fo, to, rtol=1e-5 if dtype == np.float32 else 1e-12,
                                       atol=5e-7 if dtype == np.float32 else 1e-15,
                                       err_msg=op.name)


def test_sigmoid_of_minus_100_is_zero_in_0d_and_nd(torch):
    for v in (-100.0, -88.72284, -1000.0):
        assert fastad.sigmoid(fastad.tensor(v)).item() == torch.sigmoid(torch.tensor(v)).item()
        assert fastad.sigmoid(fastad.tensor([v])).tolist() == torch.sigmoid(torch.tensor([v])).tolist()
    assert fastad.sigmoid(fastad.tensor(-100.0, dtype=fastad.float64)).item() > 0   # f64 holds it
    assert fastad.sigmoid(fastad.tensor(-800.0, dtype=fastad.float64)).item() == 0.0


@pytest.mark.parametrize("shape,dim", [((0, 3), 1), ((0, 3), 0), ((3, 0), 1), ((0,), 0),
                                       ((2, 0, 4), -1)])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_of_empty_tensors(shape, dim, fn, torch):
    f = getattr(F, fn)(fastad.zeros(*shape, requires_grad=True), dim=dim)
    t = getattr(torch.nn.functional, fn)(torch.zeros(*shape, requires_grad=True), dim=dim)
    assert_same(f, t)
    f.sum().backward()


@pytest.mark.parametrize("make_view", [lambda x: x[0], lambda x: x[1:], lambda x: x.view(-1),
                                       lambda x: x.t(), lambda x: x.transpose(0, 1),
                                       lambda x: x.unsqueeze(0), lambda x: x.reshape(6)])
def test_in_place_on_a_view_of_a_leaf_that_requires_grad_raises(make_view, torch):
    after = []
    for lib in (torch, fastad):
        x = lib.ones(2, 3, requires_grad=True)
        v = make_view(x)
        with pytest.raises(RuntimeError, match="view of a leaf Variable"):
            v.mul_(2)
        assert x.detach().numpy().tolist() == [[1.0] * 3] * 2
        with lib.no_grad():
            make_view(x).mul_(2)        # allowed outside the graph, as in PyTorch
        after.append(x.detach().numpy().tolist())
    assert after[0] == after[1]


def test_view_shares_the_version_counter(torch):
    x = fastad.ones(3, requires_grad=True)
    y = x * 2
    v = y[:2]
    z = v * v                       # saves v
    with fastad.no_grad():
        y.add_(1)                   # changes v's storage
    with pytest.raises(RuntimeError):
        z.sum().backward()


@pytest.mark.parametrize("fn", [
    lambda lib: lib.randn(2 ** 62), lambda lib: lib.rand(2 ** 40, 2 ** 30),
    lambda lib: lib.zeros(2 ** 62), lambda lib: lib.arange(2 ** 62),
    lambda lib: lib.linspace(0, 1, 2 ** 62), lambda lib: lib.randint(0, 5, (2 ** 62,)),
    # results of 2**48 bytes from inputs of 16 MB (inputs of 2 GB took 35 s to allocate)
    lambda lib: lib.outer(lib.ones(2 ** 24, dtype=lib.int8), lib.ones(2 ** 24, dtype=lib.int8)),
    lambda lib: lib.ones(2 ** 24, 1, dtype=lib.uint8) + lib.ones(1, 2 ** 24, dtype=lib.uint8),
])
def test_huge_sizes_raise_runtime_error(fn, torch):
    with pytest.raises(RuntimeError):
        fn(fastad)


@pytest.mark.parametrize("n", [0, -1])
def test_set_num_threads_rejects_non_positive(n, torch):
    before = fastad.get_num_threads()
    with pytest.raises(RuntimeError, match="positive integer"):
        torch.set_num_threads(n)
    with pytest.raises(RuntimeError, match="positive integer"):
        fastad.set_num_threads(n)
    assert fastad.get_num_threads() == before


def test_where_with_shapes_that_do_not_broadcast(torch):
    for lib in (torch, fastad):
        with pytest.raises(RuntimeError):
            lib.where(lib.ones(3) > 0, lib.ones(3), lib.ones(4))
        with pytest.raises(RuntimeError):
            lib.where(lib.ones(2) > 0, lib.ones(3), 0.0)
