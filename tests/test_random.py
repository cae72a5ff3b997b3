"""The random API and PyTorch's CPU streams: torch-free properties first,
then bit-for-bit comparisons with torch (skipped without it)."""
import numpy as np
import pytest

import fastad
from fastad import _random

SEEDS = [0, 1, 2147483647]
SIZES = [1, 15, 16, 17, 1000]
DTYPES = ["float32", "float64"]


def bits(t):
    a = np.ascontiguousarray(np.asarray(t.numpy() if hasattr(t, "numpy") else t))
    return a.dtype, a.shape, a.view(np.uint8).tobytes()


# ---------------------------------------------------------------- without torch
def test_mt19937_reference_values():
    # std::mt19937's defining values: the first draws and the 10000th for seed 5489
    g = fastad.Generator().manual_seed(5489)
    first = [g._random64() for _ in range(2)]
    assert [v >> 32 for v in first] + [v & 0xffffffff for v in first] == \
        [3499211612, 3890346734, 581869302, 3586334585]
    for _ in range(4997):           # draws 5 to 9998
        g._random64()
    assert g._random64() & 0xffffffff == 4123659995


def test_generator_api():
    g = fastad.Generator()
    assert g.initial_seed() == 67280421310721
    assert str(g.device) == "cpu"
    assert g.manual_seed(7) is g and g.initial_seed() == 7
    assert fastad.Generator().manual_seed(-1).initial_seed() == 2 ** 64 - 1
    s = g.seed()
    assert g.initial_seed() == s and 0 <= s < 2 ** 64
    assert fastad.manual_seed(3) is fastad.default_generator
    assert fastad.initial_seed() == 3 == fastad.random.initial_seed()
    with pytest.raises(ValueError):
        fastad.manual_seed(2 ** 64)
    with pytest.raises(RuntimeError):
        fastad.Generator(device="cuda")


def test_determinism_and_independence():
    fastad.manual_seed(11)
    a = [fastad.rand(5), fastad.randn(20), fastad.randint(0, 9, (6,)), fastad.randperm(8)]
    fastad.manual_seed(11)
    g = fastad.Generator().manual_seed(99)
    fastad.randn(40, generator=g)        # drawing from g leaves the default stream alone
    b = [fastad.rand(5), fastad.randn(20), fastad.randint(0, 9, (6,)), fastad.randperm(8)]
    assert all(bits(x) == bits(y) for x, y in zip(a, b))
    g1, g2 = fastad.Generator().manual_seed(5), fastad.Generator().manual_seed(5)
    assert bits(fastad.rand(7, generator=g1)) == bits(fastad.rand(7, generator=g2))


def test_state_round_trip_keeps_cached_normal():
    fastad.manual_seed(4)
    fastad.randn(3, dtype=fastad.float64)     # odd count: one Box-Muller sample is cached
    state = fastad.get_rng_state()
    assert tuple(state.shape) == (5056,)
    a = fastad.randn(5, dtype=fastad.float64)
    fastad.set_rng_state(state)
    assert bits(fastad.randn(5, dtype=fastad.float64)) == bits(a)
    g = fastad.Generator().set_state(state)
    assert bits(fastad.randn(5, dtype=fastad.float64, generator=g)) == bits(a)
    raw = np.asarray(fastad.Generator().manual_seed(0).get_state().numpy(), np.uint8)
    # CPUGeneratorImplState: seed, left=1, seeded=1, next=0, state[1] = 1 for seed 0
    assert raw[:32].tolist() == [0] * 8 + [1, 0, 0, 0, 1, 0, 0, 0] + [0] * 16
    assert raw[32:40].tolist() == [1, 0, 0, 0, 0, 0, 0, 0]


def test_set_state_errors():
    with pytest.raises(RuntimeError, match="size 5056"):
        fastad.set_rng_state(np.zeros(10, np.uint8))
    with pytest.raises(RuntimeError, match="Invalid mt19937 state"):
        fastad.set_rng_state(np.zeros(5056, np.uint8))
    with pytest.raises(TypeError):
        fastad.set_rng_state(np.zeros(5056, np.float32))


def test_fork_rng():
    fastad.manual_seed(2)
    with fastad.random.fork_rng():
        a = fastad.rand(4)
    assert bits(fastad.rand(4)) == bits(a)


def test_shapes_dtypes_ranges():
    g = fastad.Generator().manual_seed(0)
    assert fastad.rand(2, 3, generator=g).dtype == fastad.float32
    assert tuple(fastad.randn((4, 5), generator=g).shape) == (4, 5)
    assert fastad.randn(2, dtype=fastad.float64, generator=g).dtype == fastad.float64
    u = fastad.rand(10000, generator=g).numpy()
    assert u.min() >= 0 and u.max() < 1
    r = fastad.randint(-3, 4, (1000,), generator=g)
    assert r.dtype == fastad.int64 and set(r.numpy().tolist()) == set(range(-3, 4))
    assert sorted(fastad.randperm(50, generator=g).numpy().tolist()) == list(range(50))
    b = fastad.bernoulli(fastad.full((1000,), 0.3), generator=g).numpy()
    assert set(b.tolist()) <= {0.0, 1.0} and 200 < b.sum() < 400
    m = fastad.multinomial(fastad.rand(3, 10, generator=g), 10, generator=g).numpy()
    assert m.shape == (3, 10) and all(sorted(row) == list(range(10)) for row in m.tolist())
    p = fastad.poisson(fastad.full((2000,), 4.0), generator=g).numpy()
    assert abs(p.mean() - 4.0) < 0.3 and (p == np.round(p)).all()
    assert fastad.normal(0.0, 1.0, (2, 2)).shape == (2, 2)
    x = fastad.empty(6, dtype=fastad.int64).random_(2, 5, generator=g).numpy()
    assert set(x.tolist()) <= {2, 3, 4}
    e = fastad.empty(1000).exponential_(2.0, generator=g).numpy()
    assert e.min() > 0 and abs(e.mean() - 0.5) < 0.1
    assert fastad.randint_like(fastad.zeros(3, 2), 5).shape == (3, 2)
    assert fastad.rand_like(fastad.zeros(3, dtype=fastad.float64)).dtype == fastad.float64
    assert fastad.rand(()).dim() == 0


def test_errors():
    with pytest.raises(RuntimeError, match="element < 0"):
        fastad.multinomial(fastad.tensor([0.5, -0.1]), 1)
    with pytest.raises(RuntimeError, match="probability entry < 0"):
        fastad.multinomial(fastad.tensor([0.5, -0.1]), 3, replacement=True)
    with pytest.raises(RuntimeError, match="without replacement"):
        fastad.multinomial(fastad.tensor([0.5, 0.5]), 3)
    with pytest.raises(RuntimeError, match="sum of probabilities"):
        fastad.multinomial(fastad.zeros(3), 1)
    with pytest.raises(RuntimeError, match="from=5 >= to=2"):
        fastad.randint(5, 2, (3,))
    with pytest.raises(NotImplementedError):
        fastad.zeros(3, dtype=fastad.int64).uniform_()
    with pytest.raises(RuntimeError, match="std >= 0.0"):
        fastad.normal(fastad.zeros(2), -1.0)
    with pytest.raises(RuntimeError, match="all elements of std"):
        fastad.normal(fastad.zeros(2), fastad.tensor([1.0, -1.0]))
    with pytest.raises(RuntimeError, match=r"\[0, 1\]"):
        fastad.zeros(3).bernoulli_(1.5)
    with pytest.raises(RuntimeError, match="non-negative"):
        fastad.poisson(fastad.tensor([-1.0]))
    with pytest.raises(RuntimeError, match="lambda > 0.0"):
        fastad.zeros(2).exponential_(0.0)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        fastad.zeros(3, requires_grad=True).normal_()


def test_inplace_samplers_on_views_and_leaves():
    w = fastad.zeros(3, 4, requires_grad=True)
    with fastad.no_grad():
        w.uniform_(-1, 1)
    assert (w.detach().numpy() != 0).all()
    x = fastad.zeros(4, 5)
    x[1].normal_()               # a row view fills the base's storage
    assert (x.numpy()[1] != 0).all() and (x.numpy()[[0, 2, 3]] == 0).all()
    s = fastad.tensor(0.0)
    s.uniform_(2, 3)
    assert 2 <= s.item() < 3


def test_simd_and_lane_box_muller_agree():
    g = fastad.Generator()
    out = []
    for simd in (True, False):
        old = _random._simd(simd)
        try:
            out.append(_random.fill_normal(np.empty(16 * 500 + 7, np.float32), 0.5, 2.0,
                                           g.manual_seed(3)))
        finally:
            _random._simd(old)
    assert np.array_equal(out[0], out[1])


def test_normal_gradients_are_zero_as_in_pytorch():
    """PyTorch's normal is not reparameterised: NormalBackward3 passes zeros."""
    mean = fastad.zeros(5, requires_grad=True)
    std = fastad.ones(5, requires_grad=True)
    fastad.manual_seed(0)
    y = fastad.normal(mean, std)
    assert y.grad_fn.name() == "NormalBackward3"
    y.sum().backward()
    assert np.array_equal(mean.grad.numpy(), np.zeros(5, np.float32))
    assert np.array_equal(std.grad.numpy(), np.zeros(5, np.float32))


# ---------------------------------------------------------------- against torch
@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _both(torch, seed):
    fastad.manual_seed(seed)
    torch.manual_seed(seed)


def _dt(torch, name):
    return getattr(fastad, name), getattr(torch, name)


def _same(a, b):
    return bits(a.detach()) == bits(b.detach())


def _avx2_normal(torch, dtype_name, n):
    # PyTorch's float32 normal_ of 16+ values runs avx_mathfun only on AVX2/AVX512 CPUs
    return (dtype_name != "float32" or n < 16
            or torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512"))


def _mkl_bernoulli(torch):
    # PyTorch sends a float p through MKL's own stream on Intel CPUs
    try:
        with open("/proc/cpuinfo") as f:
            intel = "GenuineIntel" in f.read()
    except OSError:
        intel = False
    return intel and torch.backends.mkl.is_available()


@pytest.mark.parametrize("seed", SEEDS)
def test_uniform_and_normal_streams(torch, seed):
    for name in DTYPES:
        fd, td = _dt(torch, name)
        for n in SIZES:
            _both(torch, seed)
            assert _same(fastad.rand(n, dtype=fd), torch.rand(n, dtype=td)), (name, n)
            assert _same(fastad.empty(n, dtype=fd).uniform_(-0.3, 1.7),
                         torch.empty(n, dtype=td).uniform_(-0.3, 1.7)), (name, n)
            if _avx2_normal(torch, name, n):
                assert _same(fastad.randn(n, dtype=fd), torch.randn(n, dtype=td)), (name, n)
                assert _same(fastad.empty(n, dtype=fd).normal_(0.5, 2.5),
                             torch.empty(n, dtype=td).normal_(0.5, 2.5)), (name, n)
                # a second small draw uses the cached Box-Muller sample
                assert _same(fastad.randn(3, dtype=fd), torch.randn(3, dtype=td)), (name, n)
            x, y = fastad.zeros(n, dtype=fd), torch.zeros(n, dtype=td)
            assert _same(fastad.rand_like(x), torch.rand_like(y))
            if _avx2_normal(torch, name, n):
                assert _same(fastad.randn_like(x), torch.randn_like(y))
            assert fastad.get_rng_state().numpy().astype(np.uint8).tobytes() == \
                torch.get_rng_state().numpy().tobytes()


@pytest.mark.parametrize("seed", SEEDS)
def test_integer_streams(torch, seed):
    for n in SIZES:
        _both(torch, seed)
        assert _same(fastad.randint(3, 17, (n,)), torch.randint(3, 17, (n,)))
        assert _same(fastad.randint(-5, 1 << 40, (n,)), torch.randint(-5, 1 << 40, (n,)))
        assert _same(fastad.randint(10, (n,), dtype=fastad.float32),
                     torch.randint(10, (n,), dtype=torch.float32))
        assert _same(fastad.randperm(n), torch.randperm(n))
        assert _same(fastad.empty(n, dtype=fastad.int64).random_(),
                     torch.empty(n, dtype=torch.int64).random_())
        assert _same(fastad.empty(n).random_(), torch.empty(n).random_())
        assert _same(fastad.empty(n).random_(7), torch.empty(n).random_(7))
        assert _same(fastad.randint_like(fastad.zeros(n), 2, 9), torch.randint_like(torch.zeros(n), 2, 9))


@pytest.mark.parametrize("seed", SEEDS)
def test_normal_overloads(torch, seed):
    for name in DTYPES:
        fd, td = _dt(torch, name)
        for n in SIZES:
            if not _avx2_normal(torch, name, n):
                continue
            m = np.linspace(-1, 1, n).astype(name)
            s = np.linspace(0.5, 2, n).astype(name)
            fm, fs = fastad.tensor(m), fastad.tensor(s)
            tm, ts = torch.tensor(m), torch.tensor(s)
            _both(torch, seed)
            assert _same(fastad.normal(fm, fs), torch.normal(tm, ts)), (name, n)
            assert _same(fastad.normal(fm, 0.7), torch.normal(tm, 0.7)), (name, n)
            assert _same(fastad.normal(0.3, fs), torch.normal(0.3, ts)), (name, n)
            assert _same(fastad.normal(0.3, 0.7, (n,), dtype=fd),
                         torch.normal(0.3, 0.7, (n,), dtype=td)), (name, n)


@pytest.mark.parametrize("seed", SEEDS)
def test_discrete_distributions(torch, seed):
    mkl = _mkl_bernoulli(torch)
    for name in DTYPES:
        fd, td = _dt(torch, name)
        for n in SIZES:
            p = np.random.default_rng(n).random(n).astype(name)
            w = np.random.default_rng(n).random((3, max(n, 2))).astype(name)
            _both(torch, seed)
            assert _same(fastad.bernoulli(fastad.tensor(p)), torch.bernoulli(torch.tensor(p)))
            if not mkl:
                assert _same(fastad.zeros(n, dtype=fd).bernoulli_(0.3),
                             torch.zeros(n, dtype=td).bernoulli_(0.3))
            fw, tw = fastad.tensor(w), torch.tensor(w)
            k = min(n, 5)
            assert _same(fastad.multinomial(fw, k), torch.multinomial(tw, k)), (name, n)
            assert _same(fastad.multinomial(fw[0], 1), torch.multinomial(tw[0], 1))
            assert _same(fastad.multinomial(fw, 9, replacement=True),
                         torch.multinomial(tw, 9, replacement=True)), (name, n)
            assert _same(fastad.poisson(fastad.tensor(p * 20)), torch.poisson(torch.tensor(p * 20)))
            assert _same(fastad.empty(n, dtype=fd).exponential_(1.5),
                         torch.empty(n, dtype=td).exponential_(1.5))
            assert _same(fastad.empty(n, dtype=fd).geometric_(0.3),
                         torch.empty(n, dtype=td).geometric_(0.3))
            assert _same(fastad.empty(n, dtype=fd).cauchy_(0.5, 2.0),
                         torch.empty(n, dtype=td).cauchy_(0.5, 2.0))
            assert _same(fastad.empty(n, dtype=fd).log_normal_(0.5, 0.7),
                         torch.empty(n, dtype=td).log_normal_(0.5, 0.7))


@pytest.mark.parametrize("seed", SEEDS)
def test_nn_initialisation(torch, seed):
    _both(torch, seed)
    a, b = fastad.nn.Linear(20, 7), torch.nn.Linear(20, 7)
    assert _same(a.weight, b.weight) and _same(a.bias, b.bias)
    a, b = fastad.nn.Linear(5, 3, dtype=fastad.float64), torch.nn.Linear(5, 3, dtype=torch.float64)
    assert _same(a.weight, b.weight) and _same(a.bias, b.bias)
    for init in ("xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"):
        x, y = fastad.empty(17, 9), torch.empty(17, 9)
        getattr(fastad.nn.init, init)(x)
        getattr(torch.nn.init, init)(y)
        assert _same(x, y), init
    g, h = fastad.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)
    x, y = fastad.empty(4, 6), torch.empty(4, 6)
    assert _same(fastad.nn.init.uniform_(x, -2, 2, generator=g),
                 torch.nn.init.uniform_(y, -2, 2, generator=h))


def test_transposed_fill_follows_memory_order(torch):
    _both(torch, 0)
    assert _same(fastad.empty(5, 7).t().uniform_(), torch.empty(5, 7).t().uniform_())
    assert _same(fastad.empty(5, 7).t().normal_(), torch.empty(5, 7).t().normal_())


def test_state_interchange_with_torch(torch):
    torch.manual_seed(3)
    torch.randn(5, dtype=torch.float64)
    fastad.set_rng_state(torch.get_rng_state().numpy())
    assert _same(fastad.randn(5, dtype=fastad.float64), torch.randn(5, dtype=torch.float64))
    for seed in (-1, 2 ** 40 + 3):
        _both(torch, seed)
        assert fastad.initial_seed() == torch.initial_seed()
        assert _same(fastad.rand(3), torch.rand(3))


@pytest.mark.parametrize("seed", [0, 1, 2147483647])
@pytest.mark.parametrize("case", [
    ("trunc_normal_", (64,), dict(std=0.02)),                        # redrawn normals
    ("trunc_normal_", (3, 5), dict(mean=1.0, std=2.0, a=-1, b=3)),
    ("trunc_normal_", (40,), dict(a=1.0, b=3.0)),                     # uniform + rejection
    ("orthogonal_", (3, 5), {}), ("orthogonal_", (6, 4), dict(gain=2.0)),
    ("orthogonal_", (2, 3, 2), {}), ("eye_", (3, 5), {})])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_more_nn_initialisers_draw_pytorchs_values(torch, seed, case, dtype):
    """ViT and GPT code initialise with trunc_normal_, RL code with orthogonal_."""
    name, shape, kwargs = case
    out = []
    for lib in (fastad, torch):
        lib.manual_seed(seed)
        t = getattr(lib.nn.init, name)(lib.empty(shape, dtype=getattr(lib, dtype)), **kwargs)
        out.append((t.numpy().copy(), lib.rand(3).numpy()))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-5 if dtype == "float32" else 1e-12,
                               atol=1e-6 if dtype == "float32" else 1e-12)
    np.testing.assert_array_equal(out[0][1], out[1][1])      # the stream is left where PyTorch's is


def test_initialisers_check_dims(torch):
    for lib in (fastad, torch):
        with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions"):
            lib.nn.init.orthogonal_(lib.empty(3))
        with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
            lib.nn.init.eye_(lib.empty(2, 2, 2))
