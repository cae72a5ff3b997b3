"""fastad.distributions against torch.distributions: values of log_prob,
entropy, mean, variance and kl_divergence, their gradients (and those of
rsample-based losses), samples bit for bit under the same seed, and
PyTorch's ValueErrors for invalid parameters and values. Torch-free
properties first."""
import math

import numpy as np
import pytest

import fastad
from fastad import distributions as fd
from fastad.distributions import constraints


# ---------------------------------------------------------------- without torch
def test_shapes_and_sample_shapes():
    n = fd.Normal(fastad.zeros(2, 3), 1.0)
    assert n.batch_shape == (2, 3) and n.event_shape == ()
    assert n.sample().shape == (2, 3) and n.sample((4, 5)).shape == (4, 5, 2, 3)
    assert fd.Normal(0.0, 1.0).batch_shape == () and fd.Normal(0.0, 1.0).sample().shape == ()
    c = fd.Categorical(logits=fastad.zeros(4, 3))
    assert c.batch_shape == (4,) and c.sample((2,)).shape == (2, 4)
    o = fd.OneHotCategorical(probs=fastad.ones(4, 3))
    assert o.batch_shape == (4,) and o.event_shape == (3,) and o.sample((2,)).shape == (2, 4, 3)
    i = fd.Independent(fd.Normal(fastad.zeros(4, 3), 1.0), 1)
    assert i.batch_shape == (4,) and i.event_shape == (3,) and i.log_prob(
        fastad.zeros(4, 3)).shape == (4,)
    assert fd.Bernoulli(0.5).expand((3, 2)).sample().shape == (3, 2)
    assert isinstance(n.batch_shape, fastad.Size)


def test_sample_records_nothing_and_rsample_is_differentiable():
    loc = fastad.tensor([0.5, -1.0], requires_grad=True)
    scale = fastad.tensor([1.0, 2.0], requires_grad=True)
    n = fd.Normal(loc, scale)
    assert not n.sample().requires_grad
    fastad.manual_seed(3)
    x = n.rsample((1000,))
    fastad.manual_seed(3)
    eps = fastad.empty(1000, 2).normal_()
    x.sum().backward()
    np.testing.assert_allclose(loc.grad.numpy(), [1000, 1000])
    np.testing.assert_allclose(scale.grad.numpy(), eps.sum(0).numpy(), rtol=1e-5)


def test_normal_log_prob_and_entropy_closed_forms():
    n = fd.Normal(fastad.tensor([0.0, 1.0], dtype=fastad.float64),
                  fastad.tensor([1.0, 2.0], dtype=fastad.float64))
    x = np.array([0.3, -0.4])
    want = -((x - [0, 1]) ** 2) / (2 * np.array([1, 4.0])) - np.log([1, 2.0]) \
        - 0.5 * math.log(2 * math.pi)
    np.testing.assert_allclose(n.log_prob(fastad.tensor(x)).numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(n.entropy().numpy(),
                               0.5 + 0.5 * math.log(2 * math.pi) + np.log([1, 2.0]))


def test_either_probs_or_logits():
    for cls in (fd.Bernoulli, fd.Categorical, fd.OneHotCategorical):
        with pytest.raises(ValueError, match="Either `probs` or `logits` must be specified"):
            cls()
        with pytest.raises(ValueError, match="but not both"):
            cls(probs=fastad.ones(2) / 2, logits=fastad.zeros(2))
    with pytest.raises(ValueError, match="`probs` parameter must be at least one-dimensional."):
        fd.Categorical(probs=fastad.tensor(1.0))


def test_validation_can_be_turned_off():
    n = fd.Normal(0.0, -1.0, validate_args=False)
    assert n.scale.item() == -1.0
    fd.Distribution.set_default_validate_args(False)
    try:
        fd.Bernoulli(probs=fastad.tensor([2.0]))
    finally:
        fd.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError, match="GreaterThan"):
        fd.Normal(0.0, -1.0)


def test_kl_registry_dispatch_and_missing_pair():
    class MyNormal(fd.Normal):
        pass

    p, q = MyNormal(0.0, 1.0), fd.Normal(1.0, 2.0)
    want = fd.kl_divergence(fd.Normal(0.0, 1.0), q)
    assert fd.kl_divergence(p, q).item() == want.item()

    @fd.register_kl(MyNormal, fd.Normal)
    def _kl(p, q):
        return fastad.tensor(42.0)
    assert fd.kl_divergence(p, q).item() == 42.0
    assert fd.kl.kl_divergence is fd.kl_divergence
    with pytest.raises(NotImplementedError, match="No KL\\(p \\|\\| q\\) is implemented for p "
                                                  "type Normal and q type Bernoulli"):
        fd.kl_divergence(q, fd.Bernoulli(0.5))


def test_constraints_reprs():
    assert repr(constraints.positive) == "GreaterThan(lower_bound=0.0)"
    assert repr(constraints.unit_interval) == "Interval(lower_bound=0.0, upper_bound=1.0)"
    assert repr(constraints.real_vector) == "IndependentConstraint(Real(), 1)"
    assert repr(constraints.simplex) == "Simplex()"
    assert constraints.is_dependent(fd.Uniform.support)


# ---------------------------------------------------------------- against torch
torch = pytest.importorskip("torch")
td = torch.distributions


def pair(a, dtype="float64", requires_grad=False):
    a = np.asarray(a, dtype=dtype)
    return (fastad.tensor(a, requires_grad=requires_grad),
            torch.tensor(a, requires_grad=requires_grad))


def close(f, t, **kw):
    if f is None or t is None:      # a gradient: None for an unused input in both
        assert f is None and t is None
        return
    np.testing.assert_allclose(np.asarray(f.detach().numpy()), t.detach().numpy(),
                               **({"rtol": 1e-12, "atol": 1e-12} | kw))


LOC, SCALE = [[0.5, -1.0, 2.0], [0.0, 0.3, -0.7]], [[1.0, 0.5, 2.0], [0.3, 1.5, 0.8]]
LOGITS = [[0.1, -1.2, 2.0, 0.4], [1.0, 1.0, -3.0, 0.0], [0.0, 0.0, 0.0, 0.0]]


def build(name, lib, t):
    """A distribution of each kind over the parameters t (tensors of lib)."""
    return {
        "Normal": lambda: lib.Normal(t[0], t[1]),
        "Uniform": lambda: lib.Uniform(t[0], t[0] + t[1]),
        "Bernoulli_probs": lambda: lib.Bernoulli(probs=t[1] / 3),
        "Bernoulli_logits": lambda: lib.Bernoulli(logits=t[0]),
        "Categorical_probs": lambda: lib.Categorical(probs=t[1]),
        "Categorical_logits": lambda: lib.Categorical(logits=t[0]),
        "OneHotCategorical": lambda: lib.OneHotCategorical(logits=t[0]),
        "Independent": lambda: lib.Independent(lib.Normal(t[0], t[1]), 1),
        "Exponential": lambda: lib.Exponential(t[1]),
        "MultivariateNormal": lambda: lib.MultivariateNormal(t[0], scale_tril=t[1]),
        "MultivariateNormal_cov": lambda: lib.MultivariateNormal(t[0], t[1] @ t[1].mT),
        "MultivariateNormal_prec": lambda: lib.MultivariateNormal(
            t[0], precision_matrix=t[1] @ t[1].mT),
    }[name]()


TRIL = [[1.0, 0.0, 0.0], [0.5, 2.0, 0.0], [-0.3, 0.2, 0.7]]
PARAMS = {"Categorical_probs": (LOGITS, np.exp(LOGITS)), "Categorical_logits": (LOGITS, LOGITS),
          "OneHotCategorical": (LOGITS, LOGITS), "MultivariateNormal": (LOC, TRIL),
          "MultivariateNormal_cov": (LOC, TRIL), "MultivariateNormal_prec": (LOC, TRIL)}
VALUES = {"Normal": [[0.1, 0.2, -3.0], [1.0, 0.0, 0.5]],
          "Uniform": [[0.6, -0.9, 2.5], [0.1, 1.0, -0.5]],
          "Bernoulli_probs": [[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]],
          "Bernoulli_logits": [[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]],
          "Categorical_probs": [3, 0, 1], "Categorical_logits": [[3, 0, 1], [2, 2, 0]],
          "OneHotCategorical": [[0, 0, 0, 1], [0, 1, 0, 0], [1, 0, 0, 0]],
          "Independent": [[0.1, 0.2, -3.0], [1.0, 0.0, 0.5]],
          "Exponential": [[0.1, 2.0, 0.0], [1.0, 0.3, 5.0]],
          "MultivariateNormal": [[0.1, 0.2, -3.0], [1.0, 0.0, 0.5]],
          "MultivariateNormal_cov": [[[0.1, 0.2, -3.0]], [[1.0, 0.0, 0.5]]],
          "MultivariateNormal_prec": [0.3, -0.2, 1.5]}
KINDS = list(VALUES)


@pytest.mark.parametrize("name", KINDS)
def test_values_and_gradients_match_torch(name):
    params = PARAMS.get(name, (LOC, SCALE))
    ts = [pair(p, requires_grad=True) for p in params]
    f, t = build(name, fd, [a for a, _ in ts]), build(name, td, [b for _, b in ts])
    assert tuple(f.batch_shape) == tuple(t.batch_shape)
    assert tuple(f.event_shape) == tuple(t.event_shape)
    vf, vt = pair(VALUES[name])
    for attr in ("mean", "variance", "stddev"):
        close(getattr(f, attr), getattr(t, attr), equal_nan=True)
    if name not in ("Uniform", "Bernoulli_probs", "Bernoulli_logits"):
        close(f.mode, t.mode)
    lf, lt = f.log_prob(vf), t.log_prob(vt)
    close(lf, lt)
    ef, et = f.entropy(), t.entropy()
    close(ef, et)
    w = np.linspace(0.5, 1.5, lt.numel()).reshape(tuple(lt.shape))
    # the parameters' own graph (probs / probs.sum(-1)) is shared by entropy
    (lf * fastad.tensor(w)).sum().backward(retain_graph=True)
    (lt * torch.tensor(w)).sum().backward(retain_graph=True)
    for (a, b) in ts:
        close(a.grad, b.grad, atol=1e-10)
        a.grad, b.grad = None, None
    ef.sum().backward()
    et.sum().backward()
    for (a, b) in ts:
        close(a.grad, b.grad, atol=1e-10)


@pytest.mark.parametrize("name", KINDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_samples_equal_torch_bit_for_bit(name, dtype):
    if name == "MultivariateNormal_prec" or name == "MultivariateNormal_cov" and dtype == "float32":
        pytest.skip("the Cholesky factor differs from PyTorch's in the last bit (docstring)")
    params = PARAMS.get(name, (LOC, SCALE))
    ts = [pair(p, dtype) for p in params]
    f, t = build(name, fd, [a for a, _ in ts]), build(name, td, [b for _, b in ts])
    for shape in [(), (5,), (2, 3)]:
        fastad.manual_seed(7)
        torch.manual_seed(7)
        sf, st = f.sample(shape), t.sample(shape)
        assert str(sf.dtype) == str(st.dtype)
        np.testing.assert_array_equal(sf.numpy(), st.numpy())
        if t.has_rsample:
            fastad.manual_seed(8)
            torch.manual_seed(8)
            np.testing.assert_array_equal(f.rsample(shape).detach().numpy(),
                                          t.rsample(shape).detach().numpy())


@pytest.mark.parametrize("name", ["Normal", "Uniform", "Independent", "Exponential",
                                  "MultivariateNormal", "MultivariateNormal_cov",
                                  "MultivariateNormal_prec"])
def test_rsample_loss_gradients_match_torch(name):
    ts = [pair(p, requires_grad=True) for p in PARAMS.get(name, (LOC, SCALE))]
    f, t = build(name, fd, [a for a, _ in ts]), build(name, td, [b for _, b in ts])
    fastad.manual_seed(1)
    torch.manual_seed(1)
    xf, xt = f.rsample((4,)), t.rsample((4,))
    (xf ** 2).sum().backward()
    (xt ** 2).sum().backward()
    for (a, b) in ts:
        close(a.grad, b.grad, rtol=1e-10)


KL_PAIRS = {
    "Normal": (lambda lib, a, b: lib.Normal(a, b), (LOC, SCALE), ([[0., 1., -1.], [2., 0., 0.]],
                                                                   [[2., 1., .5], [.3, .2, 1.]])),
    "Bernoulli": (lambda lib, a, b: lib.Bernoulli(probs=a), ([0.3, 0.0, 1.0, 0.5],),
                  ([0.6, 0.2, 0.7, 0.0],)),
    "Categorical": (lambda lib, a, b: lib.Categorical(probs=a),
                    ([[0.2, 0.3, 0.5], [0.0, 0.5, 0.5], [0.5, 0.5, 0.0]],),
                    ([[0.1, 0.1, 0.8], [0.2, 0.3, 0.5], [0.5, 0.0, 0.5]],)),
    "OneHotCategorical": (lambda lib, a, b: lib.OneHotCategorical(logits=a), (LOGITS,),
                          ([[0.0, 1.0, 2.0, 3.0]] * 3,)),
    "Uniform": (lambda lib, a, b: lib.Uniform(a, b), ([0.0, 0.0, 1.0], [1.0, 2.0, 2.0]),
                ([-1.0, 0.5, 0.0], [2.0, 3.0, 3.0])),
    "Exponential": (lambda lib, a, b: lib.Exponential(a), ([0.5, 2.0, 1.0],), ([1.0, 0.1, 1.0],)),
}


@pytest.mark.parametrize("name", list(KL_PAIRS))
def test_kl_divergence_matches_torch(name):
    make, p_params, q_params = KL_PAIRS[name]
    pp = [pair(v, requires_grad=True) for v in p_params] + [(None, None)]
    qp = [pair(v, requires_grad=True) for v in q_params] + [(None, None)]
    kf = fd.kl_divergence(make(fd, pp[0][0], pp[1][0]), make(fd, qp[0][0], qp[1][0]))
    kt = td.kl_divergence(make(td, pp[0][1], pp[1][1]), make(td, qp[0][1], qp[1][1]))
    close(kf, kt)
    finite = np.isfinite(kt.detach().numpy())
    w = fastad.tensor(finite.astype(float))
    fastad.where(w > 0, kf, 0.0).sum().backward()
    torch.where(torch.tensor(finite), kt, 0.0).sum().backward()
    for a, b in pp[:-1] + qp[:-1]:
        if a is not None:
            close(a.grad, b.grad, atol=1e-10)


@pytest.fixture
def torch_validates():
    # Importing torch._dynamo (test_compile does) turns torch's default
    # validation off for the whole process.
    before = torch.distributions.Distribution._validate_args
    torch.distributions.Distribution.set_default_validate_args(True)
    yield
    torch.distributions.Distribution.set_default_validate_args(before)


def _message(lib, make):
    with pytest.raises(ValueError) as info:
        make(lib)
    return str(info.value)


@pytest.mark.parametrize("make", [
    lambda d: d.distributions.Normal(d.tensor([0.0, 1.0]), d.tensor([1.0, -1.0])),
    lambda d: d.distributions.Normal(0.0, 0.0),
    lambda d: d.distributions.Normal(d.tensor(float("nan")), 1.0),
    lambda d: d.distributions.Uniform(d.tensor([0.0, 2.0]), d.tensor([1.0, 1.0])),
    lambda d: d.distributions.Bernoulli(probs=d.tensor([0.5, 1.5])),
    lambda d: d.distributions.Categorical(probs=d.tensor([[0.5, -0.1]])),
    lambda d: d.distributions.Categorical(logits=d.tensor([0.0, float("nan")])),
    lambda d: d.distributions.Normal(d.zeros(2), 1.0).log_prob(d.zeros(3)),
    lambda d: d.distributions.Normal(0.0, 1.0).log_prob(1.0),
    lambda d: d.distributions.Uniform(0.0, 1.0).log_prob(d.tensor([0.5, 1.5])),
    lambda d: d.distributions.Bernoulli(0.3).log_prob(d.tensor([0.5])),
    lambda d: d.distributions.Categorical(logits=d.zeros(3)).log_prob(d.tensor([3])),
    lambda d: d.distributions.OneHotCategorical(logits=d.zeros(3)).log_prob(d.zeros(2)),
    lambda d: d.distributions.OneHotCategorical(logits=d.zeros(3)).log_prob(d.ones(3)),
    lambda d: d.distributions.Independent(d.distributions.Normal(0.0, 1.0), 1),
    lambda d: d.distributions.Exponential(d.tensor([1.0, 0.0])),
    lambda d: d.distributions.Exponential(2.0).log_prob(d.tensor([-0.5])),
    lambda d: d.distributions.MultivariateNormal(d.zeros(2), d.tensor([[1.0, 0.0], [1.0, 1.0]])),
    lambda d: d.distributions.MultivariateNormal(d.zeros(2), d.tensor([[1.0, 2.0], [2.0, 1.0]])),
    lambda d: d.distributions.MultivariateNormal(d.zeros(2), scale_tril=d.tensor([[1.0, 1.0],
                                                                                  [0.0, 1.0]])),
    lambda d: d.distributions.MultivariateNormal(d.zeros(2), scale_tril=-d.eye(2)),
    lambda d: d.distributions.MultivariateNormal(d.zeros(2), precision_matrix=-d.eye(2)),
    lambda d: d.distributions.MultivariateNormal(d.zeros(2), d.eye(2)).log_prob(d.zeros(3)),
    lambda d: d.distributions.MultivariateNormal(d.tensor(0.0), d.eye(2)),
    lambda d: d.distributions.MultivariateNormal(d.zeros(2)),
    lambda d: d.distributions.MultivariateNormal(d.zeros(2), d.eye(2), scale_tril=d.eye(2)),
    lambda d: d.distributions.MultivariateNormal(d.zeros(2), d.ones(2)),
])
def test_invalid_parameters_and_values_raise_torchs_value_error(make, torch_validates):
    assert _message(fastad, make) == _message(torch, make)
