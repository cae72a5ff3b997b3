"""torch.nn.Module's API on fastad.nn.Module, against PyTorch: submodule,
parameter and buffer paths (get_/set_submodule, get_parameter, get_buffer)
with PyTorch's errors; the device and dtype methods (return self, keep the
Parameter objects, convert gradients; float16 training as PyTorch's, bfloat16
and non-CPU devices raising as fastad's Tensor does); state_dict and load_state_dict with extra state and the four
state-dict hooks (order, arguments, strict); legacy backward hooks."""
import re
import warnings

import numpy as np
import pytest

import fastad
from conftest import needs_torch


def _err(f):
    """f()'s exception as (class name, message), or None."""
    try:
        f()
    except Exception as e:
        return type(e).__name__, str(e)
    return None


def _tree(L):
    L.manual_seed(0)
    nn = L.nn
    return nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.BatchNorm1d(3)))


# ---------------------------------------------------------------- paths
def _paths(L):
    m = _tree(L)
    nn = L.nn
    log = []
    for t in ("", "1", "1.1", "2", "0.weight", "1.0.x", "0.weight.x"):
        r = _err(lambda: m.get_submodule(t))
        log.append(r or type(m.get_submodule(t)).__name__)
    for t in ("0.bias", "1.1.weight", "0.x", "0", "1.1.momentum", "", "1.1.running_mean"):
        r = _err(lambda: m.get_parameter(t))
        log.append(r or tuple(m.get_parameter(t).shape))
    for t in ("1.1.running_var", "1.1.num_batches_tracked", "1.1.weight", "1.1.x", "2.b"):
        r = _err(lambda: m.get_buffer(t))
        log.append(r or m.get_buffer(t).tolist())
    for args in (("1.0", nn.Tanh()), ("1.2", nn.Tanh()), ("1.3", nn.Tanh(), True),
                 ("", nn.Tanh()), ("0.weight", nn.Tanh()), ("1.0", 3), ("5.1", nn.Tanh()),
                 ("0", nn.Identity(), True)):
        log.append(_err(lambda: m.set_submodule(*args)))
    log.append([(n, type(s).__name__) for n, s in m.named_modules()])
    return log


@needs_torch
def test_submodule_parameter_and_buffer_paths_are_torchs():
    import torch
    assert _paths(fastad) == _paths(torch)


def test_get_submodule_returns_the_registered_objects():
    m = _tree(fastad)
    assert m.get_submodule("1.1") is m[1][1] and m.get_submodule("") is m
    assert m.get_parameter("0.weight") is m[0].weight
    assert m.get_buffer("1.1.running_mean") is m[1][1].running_mean
    new = fastad.nn.Linear(3, 3)
    assert m.set_submodule("1.0", new) is None and m[1][0] is new


# ---------------------------------------------------------------- dtypes and devices
def _conversions(L):
    m = _tree(L)
    w, bn = m[0].weight, m[1][1]
    m[0].weight.grad = L.ones(3, 2)
    log = []
    for call in (lambda: m.double(), lambda: m.float(), lambda: m.to(L.float64),
                 lambda: m.to(dtype=L.float32), lambda: m.to("cpu", L.float64),
                 lambda: m.to(L.zeros(1, dtype=L.float32)), lambda: m.to(L.device("cpu")),
                 lambda: m.cpu(), lambda: m.share_memory(), lambda: m.type(L.float64),
                 lambda: m.type("torch.FloatTensor")):
        out = call()
        log.append((out is m, m[0].weight is w, str(w.dtype), str(w.grad.dtype),
                    str(bn.running_mean.dtype), str(bn.num_batches_tracked.dtype),
                    str(bn.weight.dtype)))
    log.append(_err(lambda: m.to(L.int64)))
    log.append(_err(lambda: m.type(L.int64)))
    values = w.detach().numpy().copy()
    m.double().float()
    log.append(np.array_equal(values, w.detach().numpy()))
    out = m.to_empty(device="cpu")
    log.append((out is m, m[0].weight is w, tuple(w.shape), str(w.dtype), w.requires_grad))
    plain = L.nn.ReLU()
    log.append([f() is plain for f in (plain.cpu, plain.cuda, plain.half, plain.bfloat16,
                                       plain.double, lambda: plain.to("cuda"))])
    return log


@needs_torch
def test_dtype_methods_convert_like_torch_and_return_self():
    import torch
    assert _conversions(fastad) == _conversions(torch)


def test_to_empty_recurse_false_leaves_children():
    m = _tree(fastad)
    child = m[0].weight
    before = child.detach().numpy().copy()
    assert m.to_empty(device="cpu", recurse=False) is m
    assert np.array_equal(child.detach().numpy(), before)
    with pytest.raises(TypeError):
        m.to_empty("cpu")         # device is keyword-only, as in PyTorch


@needs_torch
def test_cuda_raises_torchs_cpu_build_error():
    import torch
    for L in (torch, fastad):
        with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
            _tree(L).cuda()
        with pytest.raises(AssertionError):
            _tree(L).to("cuda")


@pytest.mark.parametrize("kind", ["xpu", "ipu", "mtia"])
def test_other_devices_raise_what_tensor_to_raises(kind):
    m = _tree(fastad)
    w = m[0].weight
    with pytest.raises(NotImplementedError) as tensor_error:
        fastad.ones(1).to(kind)
    with pytest.raises(type(tensor_error.value), match=re.escape(str(tensor_error.value))):
        getattr(m, kind)()
    assert m[0].weight is w and w.dtype == fastad.float32
    plain = fastad.nn.ReLU()
    assert getattr(plain, kind)(0) is plain


@pytest.mark.parametrize("how", ["half", "to", "type"])
def test_half_converts_parameters_that_require_grad_in_place(how):
    m = _tree(fastad)
    params = list(m.parameters())
    call = {"half": m.half, "to": lambda: m.to(fastad.float16),
            "type": lambda: m.type("torch.HalfTensor")}[how]
    assert call() is m
    assert [p is q for p, q in zip(m.parameters(), params)] == [True] * len(params)
    assert all(p.dtype == fastad.float16 and p.requires_grad for p in params)


class _Affine:
    """x -> tanh(x * scale + shift): a learnable scale and a buffer shift."""

    @staticmethod
    def build(L):
        class Affine(L.nn.Module):
            def __init__(self):
                super().__init__()
                self.scale = L.nn.Parameter(L.tensor([[2.0, -3.0, 0.25]]))
                self.register_buffer("shift", L.tensor([0.5, -1.0, 0.1]))
                self.register_buffer("count", L.tensor(3))

            def forward(self, x):
                return L.tanh(x * self.scale + self.shift)
        return Affine()


@needs_torch
def test_half_of_an_inference_module_converts_and_runs_as_torch():
    import torch
    x = np.array([[1.0, 2.0, -0.5], [0.1, 0.2, 0.3]])
    out = {}
    for L in (fastad, torch):
        m = _Affine.build(L)
        w = m.scale
        assert m.requires_grad_(False).half() is m and m.scale is w
        assert [str(t.dtype) for t in (m.scale, m.shift, m.count)] == [
            "torch.float16", "torch.float16", "torch.int64"]
        y = m(L.tensor(x).half())
        assert str(y.dtype) == "torch.float16"
        out[L] = y.float().numpy()
    np.testing.assert_allclose(out[fastad], out[torch], atol=2e-3)


def test_bfloat16_raises_as_fastad_bfloat16_does():
    m = _tree(fastad)
    with pytest.raises(TypeError) as tensor_error:
        fastad.ones(1).to(fastad.bfloat16)
    with pytest.raises(TypeError, match=re.escape(str(tensor_error.value))):
        m.requires_grad_(False).bfloat16()
    assert m[0].weight.dtype == fastad.float32


# ---------------------------------------------------------------- construction, attributes
@needs_torch
def test_init_arguments_and_class_attributes_are_torchs():
    import torch
    logs = []
    for L in (fastad, torch):
        class Mixin:
            def __init__(self, *args, **kwargs):
                self.seen = (args, kwargs)

        class Cooperative(L.nn.Module, Mixin):
            call_super_init = True

        c = Cooperative(1, k=2)
        logs.append([_err(lambda: L.nn.Module(1)), _err(lambda: L.nn.Module(a=1)),
                     c.seen, c.training, L.nn.Module.call_super_init, L.nn.Module.dump_patches,
                     L.nn.Module.T_destination.__name__,
                     repr(L.nn.Module.T_destination.__bound__)])
    assert logs[0] == logs[1]


# ---------------------------------------------------------------- state dicts
def _extra_module(L):
    class Counter(L.nn.Module):
        """A Linear that keeps a step count and a tag as extra state."""

        def __init__(self):
            super().__init__()
            self.lin = L.nn.Linear(2, 2)
            self.steps, self.tag = 0, "a"

        def get_extra_state(self):
            return {"steps": self.steps, "tag": self.tag}

        def set_extra_state(self, state):
            self.steps, self.tag = state["steps"], state["tag"]
    L.manual_seed(0)
    return L.nn.Sequential(Counter(), L.nn.BatchNorm1d(2))


def _state_program(L):
    log = []
    net = _extra_module(L)
    net[0].steps, net[0].tag = 7, "b"

    def keys(d):
        return sorted(d)
    net.register_state_dict_pre_hook(lambda m, prefix, keep: log.append(
        ("sd pre", type(m).__name__, prefix, keep)))
    net[0].register_state_dict_pre_hook(lambda m, prefix, keep: log.append(
        ("sd pre", type(m).__name__, prefix, keep)))
    net[0].register_state_dict_post_hook(lambda m, sd, prefix, meta: log.append(
        ("sd post", type(m).__name__, keys(sd), prefix, meta)))
    def drop_count(m, sd, prefix, meta):
        del sd["1.num_batches_tracked"]
    net.register_state_dict_post_hook(drop_count)
    sd = net.state_dict(keep_vars=True)
    log.append(("keys", list(sd), dict(sd._metadata), sd["0._extra_state"]))
    log.append(("kept", sd["0.lin.weight"] is net[0].lin.weight))
    log.append(_err(lambda: net.state_dict(prefix="x.")))    # the pop fails on x. keys

    other = _extra_module(L)
    other[0].register_load_state_dict_pre_hook(
        lambda m, sd, prefix, meta, strict, missing, unexpected, errors: log.append(
            ("load pre", type(m).__name__, keys(sd), prefix, meta, strict, list(missing),
             list(unexpected), list(errors))))
    other.register_load_state_dict_pre_hook(
        lambda m, sd, prefix, meta, strict, missing, unexpected, errors: log.append(
            ("load pre", type(m).__name__, prefix, strict)))
    other[0].register_load_state_dict_post_hook(lambda m, keys_: log.append(
        ("load post", type(m).__name__, list(keys_.missing_keys), list(keys_.unexpected_keys))))
    other.register_load_state_dict_post_hook(lambda m, keys_: log.append(
        ("load post", type(m).__name__, list(keys_.missing_keys), list(keys_.unexpected_keys))))
    sd = {k: v.detach() if hasattr(v, "detach") else v for k, v in sd.items()}
    log.append(("load", repr(other.load_state_dict(sd, strict=False))))
    log.append(("extra", other[0].steps, other[0].tag,
                np.array_equal(other[0].lin.weight.detach().numpy(),
                               net[0].lin.weight.detach().numpy())))
    log.append(("with _metadata", repr(other.load_state_dict(net.state_dict(), strict=False))))
    # a post-hook that clears the missing keys makes strict loading pass
    third = _extra_module(L)
    third.register_load_state_dict_post_hook(lambda m, k: k.missing_keys.clear())
    log.append(("cleared", repr(third.load_state_dict(sd))))
    return log


@needs_torch
def test_state_dict_hooks_and_extra_state_log_what_torch_logs():
    import torch
    assert _state_program(fastad) == _state_program(torch)


def _strict_program(L):
    nn = L.nn
    log = []
    net = _extra_module(L)
    sd = net.state_dict()
    plain = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    for target, source, strict in (
            (plain, sd, True), (plain, sd, False),
            (net, {k: v for k, v in sd.items() if k != "0._extra_state"}, True),
            (net, {k: v for k, v in sd.items() if k != "0._extra_state"}, False),
            (net, {**sd, "0.lin.bias": L.zeros(3)}, False),
            (net, {**sd, "0.lin.bias": [0.0, 1.0]}, True),
            (net, {**sd, "2.x": L.zeros(1), "0.lin.x.y": L.zeros(1)}, True),
            (net, {k: v for k, v in sd.items() if "running" not in k}, True),
            (net, [("0.lin.bias", L.zeros(2))], True)):
        log.append(_err(lambda: target.load_state_dict(source, strict=strict)))
        log.append(repr(target.load_state_dict(source, strict=False))
                   if isinstance(source, dict) and log[-1] is not None
                   and "size mismatch" not in log[-1][1] and "While copying" not in log[-1][1]
                   else None)
    # what fits is copied even when the load raises
    fresh = _extra_module(L)
    _err(lambda: fresh.load_state_dict({**sd, "0.lin.bias": L.zeros(3)}))
    log.append(np.array_equal(fresh[0].lin.weight.detach().numpy(),
                              net[0].lin.weight.detach().numpy()))
    # a 0-d parameter takes a (1,)-shaped entry
    prelu = nn.PReLU()
    prelu.weight = nn.Parameter(L.tensor(0.5))
    log.append(repr(prelu.load_state_dict({"weight": L.tensor([0.75])})))
    log.append(prelu.weight.item())
    # state-dict post hooks must not return, load post hooks neither
    bad = nn.Linear(1, 1)
    bad.register_state_dict_post_hook(lambda *a: {})
    log.append(_err(bad.state_dict))
    bad = nn.Linear(1, 1)
    bad.register_load_state_dict_post_hook(lambda *a: 1)
    log.append(_err(lambda: bad.load_state_dict(bad.state_dict())))
    return log


@needs_torch
def test_load_state_dict_errors_and_strict_are_torchs():
    import torch
    assert _strict_program(fastad) == _strict_program(torch)


@needs_torch
def test_batchnorm_loads_an_old_state_dict_without_num_batches_tracked():
    import torch
    for L in (fastad, torch):
        bn = L.nn.BatchNorm1d(2)
        sd = {k: v for k, v in bn.state_dict().items() if k != "num_batches_tracked"}
        assert repr(bn.load_state_dict(sd)) == "<All keys matched successfully>"
        with_meta = bn.state_dict()
        del with_meta["num_batches_tracked"]
        with pytest.raises(RuntimeError, match='Missing key.*"num_batches_tracked"'):
            bn.load_state_dict(with_meta)        # its _metadata says version 2


@needs_torch
def test_assign_takes_the_state_dicts_tensors():
    import torch
    for L in (fastad, torch):
        bn = L.nn.BatchNorm1d(2)
        sd = {k: v.clone() for k, v in bn.state_dict().items()}
        sd["weight"].fill_(3.0)
        bn.weight.requires_grad_(False)
        assert repr(bn.load_state_dict(sd, assign=True)) == "<All keys matched successfully>"
        assert bn.running_mean is sd["running_mean"]
        assert isinstance(bn.weight, L.nn.Parameter) and not bn.weight.requires_grad
        assert bn.bias.requires_grad and bn.weight.tolist() == [3.0, 3.0]
        sd["weight"].fill_(4.0)           # the module holds the state dict's storage
        assert bn.weight.tolist() == [4.0, 4.0]


@needs_torch
def test_state_dict_positional_arguments_warn_and_fill_destination():
    import torch
    for L in (fastad, torch):
        m = L.nn.Linear(1, 1)
        dest = {}
        with pytest.warns(FutureWarning, match="Positional args are being deprecated"):
            out = m.state_dict(dest, "p.", True)
        assert out is dest and list(dest) == ["p.weight", "p.bias"]
        assert dest["p.weight"] is m.weight


def test_extra_state_round_trips_through_fastad_save(tmp_path):
    net = _extra_module(fastad)
    net[0].steps, net[0].tag = 11, "saved"
    fastad.save(net.state_dict(), str(tmp_path / "net.pt"))
    other = _extra_module(fastad)
    assert repr(other.load_state_dict(fastad.load(str(tmp_path / "net.pt")))) == (
        "<All keys matched successfully>")
    assert (other[0].steps, other[0].tag) == (11, "saved")


def test_base_extra_state_methods_are_never_called():
    m = fastad.nn.Linear(1, 1)
    assert "_extra_state" not in "".join(m.state_dict())
    with pytest.raises(RuntimeError, match="should never be called"):
        m.get_extra_state()
    with pytest.raises(RuntimeError, match="should never be called"):
        m.set_extra_state({})


@needs_torch
def test_shared_members_and_remove_duplicate_are_torchs():
    import torch
    logs = []
    for L in (fastad, torch):
        a, b = L.nn.Linear(2, 2), L.nn.BatchNorm1d(2)
        net = L.nn.Sequential(a, b, a)
        b.register_buffer("alias", b.running_mean)
        logs.append([[n for n, _ in net.named_parameters(remove_duplicate=flag)]
                     + [n for n, _ in net.named_buffers(remove_duplicate=flag)]
                     + [type(m).__name__ for m in net.modules(remove_duplicate=flag)]
                     for flag in (True, False)])
    assert logs[0] == logs[1]


# ---------------------------------------------------------------- legacy backward hooks
def _legacy_program(L):
    nn = L.nn
    log = []

    def hook(m, gi, go):
        log.append((type(m).__name__, [None if g is None else np.round(g.tolist(), 6).tolist()
                                       for g in gi], [np.round(g.tolist(), 6).tolist()
                                                      for g in go]))

    class Mul(nn.Module):
        def forward(self, a, b):
            return a * b
    x = L.tensor([-1.0, 0.5, 2.0], requires_grad=True)
    relu = nn.ReLU()
    relu.register_backward_hook(hook)
    (relu(x * 1) * L.tensor([1.0, 2.0, 3.0])).sum().backward()
    mul = Mul()
    mul.register_backward_hook(hook)
    mul(x * 1, L.tensor([4.0, 5.0, 6.0])).sum().backward()
    mul(x * 1, x * 2).sum().backward()
    scaled = nn.Tanh()
    scaled.register_backward_hook(lambda m, gi, go: (gi[0] * 10,))
    x.grad = None
    scaled(x * 1).sum().backward()
    log.append(np.round(x.grad.tolist(), 5).tolist())
    wrong = nn.ReLU()
    wrong.register_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    log.append(_err(lambda: wrong(x * 1).sum().backward()))
    log.append(_err(lambda: relu.register_full_backward_hook(hook)))
    full = nn.ReLU()
    full.register_full_backward_hook(hook)
    log.append(_err(lambda: full.register_backward_hook(hook)))
    return log


@needs_torch
def test_legacy_backward_hook_on_single_op_modules_logs_what_torch_logs():
    import torch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)    # PyTorch's about autograd nodes
        assert _legacy_program(fastad) == _legacy_program(torch)


def test_legacy_backward_hook_warns_for_outputs_that_are_not_tensors():
    class Listing(fastad.nn.Module):
        def forward(self, a):
            return [a * 2]
    m = Listing()
    seen = []
    handle = m.register_backward_hook(lambda mod, gi, go: seen.append(len(gi)))
    x = fastad.ones(2, requires_grad=True)
    with pytest.warns(FutureWarning, match="does not return a single Tensor"):
        out = m(x)
    out[0].sum().backward()
    assert seen == [1]
    handle.remove()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m(x)
    with pytest.raises(RuntimeError, match="Cannot use both"):   # the kind stays, as in PyTorch
        m.register_full_backward_hook(lambda *a: None)


def test_legacy_backward_hook_without_input_gradients_gets_none():
    lin = fastad.nn.Linear(2, 1)
    seen = []
    lin.register_backward_hook(lambda m, gi, go: seen.append((gi, [tuple(g.shape) for g in go])))
    with warnings.catch_warnings():
        warnings.simplefilter("error")        # no full-hook warning for a legacy hook
        lin(fastad.ones(3, 2)).sum().backward()
    assert seen == [((None,), [(3, 1)])]
