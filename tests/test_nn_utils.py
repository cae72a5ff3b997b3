"""fastad.nn.utils against torch.nn.utils: clip_grad_norm_'s returned norm and
scaled grads for every norm type, clip_grad_value_, and the parameter/vector
conversions; PyTorch's errors."""
import numpy as np
import pytest

import fastad
from fastad.nn.utils import (clip_grad_norm_, clip_grad_value_, get_total_norm,
                             parameters_to_vector, vector_to_parameters)

torch = pytest.importorskip("torch")


def params_with_grads(lib, dtype, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    ps = []
    for shape in [(3, 4), (5,), (), (2, 2)]:
        p = lib.tensor(rng.standard_normal(shape), dtype=getattr(lib, dtype), requires_grad=True)
        p.grad = lib.tensor(rng.standard_normal(shape) * scale, dtype=getattr(lib, dtype))
        ps.append(p)
    ps.append(lib.zeros(3, dtype=getattr(lib, dtype), requires_grad=True))  # no grad: skipped
    return ps


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, 0.5, float("inf"), "inf", 0, -float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_equals_torchs(norm_type, max_norm, dtype):
    ours, theirs = params_with_grads(fastad, dtype), params_with_grads(torch, dtype)
    n = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    nt = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert str(n.dtype) == str(nt.dtype) and n.shape == nt.shape == ()
    rtol = 1e-6 if dtype == "float32" else 1e-13
    np.testing.assert_allclose(n.item(), nt.item(), rtol=rtol)
    for p, q in zip(ours, theirs):
        assert (p.grad is None) == (q.grad is None)
        if p.grad is not None:
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=rtol, atol=1e-7)


def test_clip_grad_norm_single_tensor_empty_and_nonfinite():
    p, q = fastad.tensor([3.0, 4.0], requires_grad=True), torch.tensor([3.0, 4.0], requires_grad=True)
    p.grad, q.grad = fastad.tensor([3.0, 4.0]), torch.tensor([3.0, 4.0])
    assert clip_grad_norm_(p, 1.0, foreach=True).item() == 5.0
    torch.nn.utils.clip_grad_norm_(q, 1.0)
    np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
    assert clip_grad_norm_([], 1.0).item() == 0.0
    with pytest.warns(UserWarning, match="empty generator"):
        clip_grad_norm_((x for x in []), 1.0)
    for bad in (float("nan"), float("inf")):
        p.grad, q.grad = fastad.tensor([bad, 1.0]), torch.tensor([bad, 1.0])
        with pytest.raises(RuntimeError) as theirs:
            torch.nn.utils.clip_grad_norm_(q, 1.0, error_if_nonfinite=True)
        with pytest.raises(RuntimeError) as ours:
            clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
        assert str(ours.value) == str(theirs.value)
        # without the check the non-finite norm scales the grads, as in PyTorch
        n = clip_grad_norm_(p, 1.0)
        nt = torch.nn.utils.clip_grad_norm_(q, 1.0)
        np.testing.assert_array_equal(n.numpy(), nt.numpy())
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
    assert get_total_norm([fastad.tensor([1.0, -2.0])], 1).item() == 3.0


@pytest.mark.parametrize("clip", [0.3, 2.0])
def test_clip_grad_value_equals_torchs(clip):
    ours, theirs = params_with_grads(fastad, "float32", 2.0), params_with_grads(torch, "float32", 2.0)
    clip_grad_value_(ours, clip)
    torch.nn.utils.clip_grad_value_(theirs, clip)
    for p, q in zip(ours[:-1], theirs[:-1]):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
    assert ours[-1].grad is None


def test_parameters_to_vector_and_back():
    ours, theirs = params_with_grads(fastad, "float64"), params_with_grads(torch, "float64")
    v, vt = parameters_to_vector(ours), torch.nn.utils.parameters_to_vector(theirs)
    np.testing.assert_array_equal(v.detach().numpy(), vt.detach().numpy())
    for p in ours:
        p.grad = None
    (v * v).sum().backward()  # the vector is differentiable, as torch.cat's
    np.testing.assert_array_equal(ours[0].grad.numpy(), 2 * ours[0].detach().numpy())
    new = fastad.arange(v.numel(), dtype=fastad.float64)
    vector_to_parameters(new, ours)
    torch.nn.utils.vector_to_parameters(torch.arange(vt.numel(), dtype=torch.float64), theirs)
    for p, q in zip(ours, theirs):
        assert tuple(p.shape) == tuple(q.shape) and p.requires_grad
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
    with pytest.raises(TypeError, match="expected torch.Tensor, but got: numpy.ndarray"):
        vector_to_parameters(np.zeros(3), ours)


def test_importable_as_in_torch():
    import fastad.nn.utils as utils
    from fastad.nn.utils import clip_grad_norm_ as f
    assert fastad.nn.utils is utils and f is utils.clip_grad.clip_grad_norm_
    with pytest.warns(FutureWarning, match="deprecated"):
        utils.clip_grad_norm([], 1.0)


# torch.nn.utils names fastad leaves out for now, each with the reason
LEFT_OUT = {
    "convert_conv2d_weight_memory_format": "channels_last formats: fastad tensors are contiguous",
    "convert_conv3d_weight_memory_format": "channels_last formats: fastad tensors are contiguous",
    "memory_format": "channels_last formats: fastad tensors are contiguous",
    "fuse_conv_bn_eval": "needs the Conv and BatchNorm modules (issue 16, point 2)",
    "fuse_conv_bn_weights": "needs the Conv and BatchNorm modules (issue 16, point 2)",
    "fuse_linear_bn_eval": "needs the BatchNorm modules (issue 16, point 2)",
    "fuse_linear_bn_weights": "needs the BatchNorm modules (issue 16, point 2)",
    "fusion": "needs the Conv and BatchNorm modules (issue 16, point 2)",
    "init": "skip_init builds modules on device='meta', which fastad does not have",
    "skip_init": "builds modules on device='meta', which fastad does not have",
    "parametrizations": "reparametrisations need module hooks (issue 16, point 2)",
    "parametrize": "reparametrisations need module hooks (issue 16, point 2)",
    "spectral_norm": "reparametrisations need module hooks (issue 16, point 2)",
    "remove_spectral_norm": "reparametrisations need module hooks (issue 16, point 2)",
    "weight_norm": "reparametrisations need module hooks (issue 16, point 2)",
    "remove_weight_norm": "reparametrisations need module hooks (issue 16, point 2)",
    "stateless": "functional_call, a torch.func utility",
}


def test_public_names_match_torch_except_those_left_out():
    import fastad.nn.utils as ours
    public = lambda m: {n for n in dir(m) if not n.startswith("_")}  # noqa: E731
    theirs = public(torch.nn.utils)
    assert theirs - public(ours) == set(LEFT_OUT), sorted((theirs - public(ours)) ^ set(LEFT_OUT))
    assert public(ours) <= theirs, sorted(public(ours) - theirs)
