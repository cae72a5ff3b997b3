"""Views as PyTorch has them, against PyTorch: the in-place view ops (t_,
transpose_, swapaxes_, swapdims_, squeeze_, unsqueeze_) change the tensor's
shape, its grad_fn (PyTorch's in-place names) and its version, and refuse
leaves that require grad; an element y[i] of a tensor reads its place in y's
storage, so later writes into y show through it, and a backward that saved it
refuses to run after them."""
import numpy as np
import pytest

import fastad
from conftest import assert_same, needs_torch, optional_torch

torch = optional_torch()

WEIGHTS = np.arange(1.0, 7.0).reshape(2, 1, 3)

VIEWS_IN_PLACE = [("t_", (), (2, 3)), ("transpose_", (0, 2), None),
                  ("transpose_", (-1, 1), None), ("swapaxes_", (0, 2), None),
                  ("swapdims_", (2, 1), None), ("squeeze_", (), None), ("squeeze_", (1,), None),
                  ("squeeze_", (-3,), None), ("squeeze_", ((0, 1),), None),
                  ("unsqueeze_", (1,), None), ("unsqueeze_", (-1,), None), ("t_", (), (6,))]


@needs_torch
@pytest.mark.parametrize("name, args, shape", VIEWS_IN_PLACE)
def test_views_in_place_match_pytorch(name, args, shape):
    got = []
    for lib in (fastad, torch):
        x = lib.tensor(WEIGHTS, requires_grad=True)
        y = x * 2
        if shape:
            y = y.reshape(shape)
        r = getattr(y, name)(*args)
        assert r is y
        w = lib.tensor(np.arange(1.0, y.numel() + 1).reshape(tuple(y.shape)))
        (y * w).sum().backward()
        got.append((y, y.grad_fn.name(), y._version, y.is_contiguous(), x.grad))
    (fy, fname, fv, fc, fg), (ty, tname, tv, tc, tg) = got
    assert_same(fy, ty)
    assert (fname, fv, fc) == (tname, tv, tc)
    assert_same(fg, tg)


@needs_torch
@pytest.mark.parametrize("name, args, shape", VIEWS_IN_PLACE[:10])
def test_views_in_place_refuse_leaves_and_views_of_leaves(name, args, shape):
    for lib in (fastad, torch):
        x = lib.tensor(WEIGHTS, requires_grad=True)
        x = x.reshape(shape).detach().requires_grad_() if shape else x
        with pytest.raises(RuntimeError, match="^a leaf Variable that requires grad is being"):
            getattr(x, name)(*args)
        with pytest.raises(RuntimeError, match="^a view of a leaf Variable that requires grad"):
            getattr(x.view(tuple(x.shape)), name)(*args)
        with lib.no_grad():
            getattr(x, name)(*args)
        assert x.is_leaf and x.requires_grad


@needs_torch
def test_a_0d_tensor_becomes_1d_and_a_view_stays_a_view():
    for lib in (fastad, torch):
        s = lib.tensor(2.0, requires_grad=True) * 1
        s.unsqueeze_(0)
        assert tuple(s.shape) == (1,) and s.grad_fn.name() == "UnsqueezeBackward1"
        s.t_()
        assert s.grad_fn.name() == "TBackward1"
        z = lib.arange(6.0).reshape(2, 3)
        row = z[0]
        row.unsqueeze_(0)
        row[0, 1] = 9
        assert z[0, 1].item() == 9 and tuple(row.shape) == (1, 3)


@needs_torch
def test_a_saved_tensor_changed_by_a_view_in_place_refuses_backward():
    for lib in (fastad, torch):
        x = lib.ones(2, 3, requires_grad=True)
        y = x * 1
        e = y * y
        y.t_()
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            e.sum().backward()


@needs_torch
@pytest.mark.parametrize("dims", [(2, 3, 4), (1, 2, 3, 1)])
def test_t_of_more_than_two_dims_is_refused(dims):
    for lib in (fastad, torch):
        with pytest.raises(RuntimeError, match="t_\\(\\) expects a tensor with <= 2 dimensions"):
            lib.zeros(dims).t_()


# ---------------------------------------------------------------- element views y[i]
ELEMENT_DTYPES = ["float32", "float64", "int64", "bool"]
BASE = {"float32": [1.0, 2.0, 3.0], "float64": [1.0, 2.0, 3.0], "int64": [1, 2, 3],
        "bool": [True, False, True]}


def _base(lib, dtype):
    return lib.tensor(np.array(BASE[dtype]).astype(dtype))


def _writes(dtype):
    """Ways of writing into y (BASE[dtype]) after its element 1 was taken:
    name -> fn(lib, y)."""
    v = {"bool": True}.get(dtype, 5)
    arr = lambda lib, xs: lib.tensor(np.array(xs).astype(dtype))   # noqa: E731
    out = {"setitem": lambda lib, y: y.__setitem__(1, v),
           "fill_": lambda lib, y: y.fill_(v),
           "zero_": lambda lib, y: y.zero_(),
           "copy_": lambda lib, y: y.copy_(arr(lib, [0, 1, 0] if dtype == "bool" else [7, 8, 9])),
           "index_put": lambda lib, y: y.__setitem__(lib.tensor([1, 2]), arr(lib, [1, 0])),
           "mask": lambda lib, y: y.__setitem__(lib.tensor([False, True, False]), v),
           "row_view": lambda lib, y: y[1:].fill_(v),
           "numpy": lambda lib, y: y.numpy().__setitem__(1, v)}
    if dtype != "bool":
        out.update({"add_": lambda lib, y: y.add_(1), "mul_": lambda lib, y: y.mul_(3),
                    "iadd": lambda lib, y: y.__iadd__(2), "sub_view": lambda lib, y: y[1:].sub_(2)})
    return out


WRITES = [(dt, w) for dt in ELEMENT_DTYPES for w in _writes(dt)]


def _reads(lib, e, dtype):
    """What a program reads off a 0-d tensor e: name -> value or tensor."""
    out = {"item": e.item(), "tolist": e.tolist(), "repr": repr(e), "str": str(e), "int": int(e),
           "bool": bool(e), "data": e.data, "detach": e.detach(), "clone": e.clone(),
           "eq": e == e.item(), "double": e.double(), "stacked": lib.stack([e, e])}
    if dtype != "bool":
        out.update({"add": e + 1, "radd": 2 + e, "mul": e * 3, "rmul": 3 * e, "sub": e - 1,
                    "rsub": 1 - e, "neg": -e, "pow": e ** 2, "max": lib.maximum(e, e)})
    if dtype.startswith("float"):
        out.update({"float": float(e), "div": e / 4, "rdiv": 1 / (e + 10), "exp": e.exp(),
                    "sin": lib.sin(e), "sigmoid": lib.nn.functional.sigmoid(e),
                    "format": format(e, ".3f"), "with_array": e * lib.ones(2, dtype=e.dtype),
                    "numpy": float(e.numpy())})
    return out


def _same_reads(f, t):
    assert f.keys() == t.keys()
    for k in f:
        if isinstance(f[k], fastad.Tensor) and not isinstance(t[k], fastad.Tensor):
            assert_same(f[k], t[k])
        elif isinstance(f[k], fastad.Tensor):
            np.testing.assert_array_equal(f[k].numpy(), t[k].numpy(), err_msg=k)
            assert f[k].dtype == t[k].dtype, k
        else:
            assert f[k] == t[k], (k, f[k], t[k])


@pytest.mark.parametrize("dtype, write", WRITES)
def test_an_element_reads_as_its_base_holds_it_now(dtype, write):
    y = _base(fastad, dtype)
    e = y[1]
    _writes(dtype)[write](fastad, y)
    now = fastad.tensor(np.array(y.tolist()[1]).astype(dtype))     # not a view
    assert e._version == y._version
    _same_reads(_reads(fastad, e, dtype), _reads(fastad, now, dtype))


@needs_torch
@pytest.mark.parametrize("dtype, write", WRITES)
def test_an_element_reads_its_base_after_writes_as_pytorch(dtype, write):
    got = []
    for lib in (fastad, torch):
        y = _base(lib, dtype)
        e = y[1]
        _writes(dtype)[write](lib, y)
        got.append(_reads(lib, e, dtype) | {"version": e._version})
    _same_reads(*got)


SPELLINGS = {"int": lambda y: y[1, 2], "negative": lambda y: y[-1, -1], "row": lambda y: y[1][2],
             "flat": lambda y: y.view(-1)[5], "t": lambda y: y.t()[2, 1],
             "iter": lambda y: list(list(y)[1])[2], "detached": lambda y: y.detach()[1, 2],
             "data": lambda y: y[1, 2].data, "detach_of": lambda y: y[1, 2].detach(),
             "ellipsis": lambda y: y[1, ..., 2]}


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_every_spelling_of_an_element_is_a_view(spelling, dtype):
    y = fastad.arange(6).reshape(2, 3).to(getattr(fastad, dtype))
    e = SPELLINGS[spelling](y)
    c = e.clone()
    y.mul_(10)
    assert (e.item(), c.item(), repr(e + 1)) == (50, 5, "tensor(51.)" if dtype == "float32"
                                                 else "tensor(51)")
    assert e.data_ptr() == y.data_ptr() + 5 * y.element_size()


def test_writes_through_an_element_and_its_data_reach_the_base():
    y = fastad.tensor([1.0, 2.0, 3.0])
    e = y[1]
    e.data.fill_(7.0)
    assert y.tolist() == [1.0, 7.0, 3.0] and e.item() == 7.0
    e.mul_(2)
    assert y.tolist() == [1.0, 14.0, 3.0]
    y[1] = -1.0
    d = e.data
    e.add_(1)
    assert (d.item(), y[1].item()) == (0.0, 0.0)


def test_a_tensor_given_an_element_as_data_reads_its_place():
    got = []
    for lib in filter(None, (fastad, torch)):
        y, s = lib.tensor([1.0, 2.0]), lib.tensor(0.0)
        s.data = y[1]
        y.add_(1)
        w = lib.tensor(1.5, requires_grad=True)
        (w * s).backward()
        got.append((s.item(), w.grad.item(), s.data_ptr() == y.data_ptr() + y.element_size()))
    assert got[0] == (3.0, 3.0, True) and got[-1] == got[0]


def test_an_element_of_a_leaf_changed_under_no_grad_records_its_new_value():
    x = fastad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = fastad.tensor(2.0, requires_grad=True)
    e = x[1]
    with fastad.no_grad():
        x.mul_(3)
    f = (e * w) ** 2
    assert f.item() == 144.0
    f.backward()
    assert (w.grad.item(), x.grad.tolist()) == (2 * 36 * 2, [0.0, 2 * 6 * 4, 0.0])


# ---------------------------------------------------------------- a saved element, written
def _w(lib):
    return lib.tensor(1.5, requires_grad=True)


USES = {"mul": lambda e, w: e * e, "mul_other": lambda e, w: e * w, "rmul": lambda e, w: w * e,
        "div": lambda e, w: w / e, "div_self": lambda e, w: e / w, "pow": lambda e, w: e ** 3,
        "sin": lambda e, w: e.sin(), "log": lambda e, w: e.log(), "abs": lambda e, w: e.abs(),
        "sigmoid": lambda e, w: e.sigmoid(), "exp": lambda e, w: e.exp(),
        "tanh": lambda e, w: e.tanh(), "add": lambda e, w: e + w, "sub": lambda e, w: w - e,
        "div_number": lambda e, w: e / 2, "mul_number": lambda e, w: 3 * e,
        "rdiv": lambda e, w: 2 / e, "clone": lambda e, w: e.clone() * w.detach()}
BASES = {"nonleaf": lambda lib: lib.tensor([1.0, 2.0, 3.0], requires_grad=True) * 2,
         "plain": lambda lib: lib.tensor([1.0, 2.0, 3.0]),
         "matrix": lambda lib: lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True) * 1}
SAVED_WRITES = {"add_": lambda lib, y: y.add_(1), "setitem": lambda lib, y: y.__setitem__(0, 7.0),
                "mul_": lambda lib, y: y.mul_(1), "zero_": lambda lib, y: y.zero_()}


def _saved_then_written(lib, base, use, write, dtype):
    y = BASES[base](lib).to(getattr(lib, dtype))
    w = _w(lib).to(getattr(lib, dtype)).detach().requires_grad_()
    e = y[1] if base != "matrix" else y[1, 0]
    out = USES[use](e, w) + w
    SAVED_WRITES[write](lib, y)
    try:
        out.backward()
    except RuntimeError as err:
        return str(err)
    return w.grad


@needs_torch
@pytest.mark.parametrize("write", SAVED_WRITES)
@pytest.mark.parametrize("use", USES)
@pytest.mark.parametrize("base", BASES)
def test_a_saved_element_written_through_its_base_refuses_backward_as_pytorch(base, use, write):
    for dtype in ("float32", "float64"):
        f, t = (_saved_then_written(lib, base, use, write, dtype) for lib in (fastad, torch))
        if isinstance(t, str):
            assert isinstance(f, str), (f, t)
            tname = "FloatTensor" if dtype == "float32" else "DoubleTensor"
            assert f.startswith("one of the variables needed for gradient computation has been "
                                f"modified by an inplace operation: [torch.{tname} []] is at "
                                "version 1; expected version 0 instead. Hint:"), f
        else:
            assert not isinstance(f, str), (f, t)
            assert_same(f, t)


def test_which_saved_elements_refuse_backward_without_torch():
    outcomes = {use: _saved_then_written(fastad, "plain", use, "add_", "float64")
                for use in USES}
    refused = sorted(u for u, r in outcomes.items() if isinstance(r, str))
    # mul saves the other operand, div the divisor and, for its gradient, the
    # dividend, pow and sin/log/abs their input; exp, tanh, sigmoid and 2 / e
    # their result, and + - and a product by a number nothing
    assert refused == ["div", "div_self", "mul_other", "rmul"]     # e saved for w's gradient
    nonleaf = {use: _saved_then_written(fastad, "nonleaf", use, "add_", "float64")
               for use in USES}
    refused = sorted(u for u, r in nonleaf.items() if isinstance(r, str))
    assert refused == sorted(["abs", "div", "div_self", "log", "mul", "mul_other", "pow", "rmul",
                              "sin"])


def test_a_write_before_the_read_or_after_the_backward_is_no_error():
    y = fastad.tensor([1.0, 2.0, 3.0])
    w = fastad.tensor(1.5, requires_grad=True)
    e = y[1]
    y.add_(1)
    f = w * e
    f.backward()
    y.add_(1)
    assert w.grad.item() == 3.0
    g = w * e
    g.backward(retain_graph=True)
    assert w.grad.item() == 3.0 + 4.0
    y.add_(1)
    with pytest.raises(RuntimeError, match="is at version 3; expected version 2 instead"):
        g.backward()


def test_elements_of_two_bases_and_of_an_unchanged_base_are_told_apart():
    w = fastad.tensor(1.5, requires_grad=True)
    a, b = fastad.tensor([1.0, 2.0]), fastad.tensor([3.0, 4.0])
    f = w * a[0] * b[1] * a[1] + w * b[0]
    b.add_(1)
    with pytest.raises(RuntimeError, match="is at version 1; expected version 0"):
        f.backward()
    f = w * a[0] * b[1] * a[1] + w * b[0]
    f.backward()
    assert w.grad.item() == 1.0 * 5.0 * 2.0 + 4.0


def test_a_saved_element_of_a_leaf_changed_under_no_grad_refuses_backward():
    x = fastad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    f = x[1] * x[1]
    with fastad.no_grad():
        x.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        f.backward()
    h = x[0] * x[1] - x[2] * 2      # a new graph: x[0] and x[1] saved at version 1
    with fastad.no_grad():
        x[2] = 0.0
    with pytest.raises(RuntimeError, match="is at version 2; expected version 1"):
        fastad.autograd.grad(h, x)
    assert fastad.autograd.grad(x[0] * x[1] - x[2] * 2, x)[0].tolist() == [3.0, 2.0, -2.0]


def _not_run(lib, case):
    """A record that saved y[0] (y written since) which the backward does not
    run: of another result, of a retained graph, off the path to the inputs."""
    w, v = lib.tensor(1.5, requires_grad=True), lib.tensor(-2.0, requires_grad=True)
    y = lib.tensor([1.0, 2.0])
    f = w * y[0] + v * 3
    if case == "retained":
        f.backward(retain_graph=True)
    y.add_(1)
    if case == "inputs":
        return lib.autograd.grad(f, v)[0]
    h = w * v * y[1]
    h.backward()
    return w.grad


@pytest.mark.parametrize("case", ["other_result", "retained", "inputs"])
def test_a_saved_element_written_since_in_a_record_the_backward_does_not_run(case):
    got = _not_run(fastad, case)
    assert got.item() == {"other_result": -6.0, "retained": 1.0 - 6.0, "inputs": 3.0}[case]
    if torch is not None:
        assert_same(got, _not_run(torch, case))


# ---------------------------------------------------------------- second order
def _second_order(lib, when):
    w = lib.tensor(1.5, dtype=lib.float64, requires_grad=True)
    y = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)
    e = y[1]
    if when == "before":
        y.add_(1)
    f = (w * e) ** 2 + w.sin() * e
    if when == "recorded":
        y.add_(1)
    try:
        g, = lib.autograd.grad(f, w, create_graph=True)
        if when == "first":
            y.add_(1)
        g.backward()
    except RuntimeError as err:
        assert "modified by an inplace operation" in str(err)
        return None
    return g.detach(), w.grad


@needs_torch
@pytest.mark.parametrize("when", ["never", "before", "recorded", "first"])
def test_second_order_through_an_element_as_pytorch(when):
    f, t = _second_order(fastad, when), _second_order(torch, when)
    assert (f is None) == (t is None)
    if t is not None:
        assert_same(f[0], t[0])
        assert_same(f[1], t[1])


def test_second_order_reads_an_element_written_before_it_was_used():
    g, gg = _second_order(fastad, "before")
    # f = (w e)^2 + e sin w with e = 3: f' = 2 w e^2 + e cos w, f'' = 2 e^2 - e sin w
    assert np.isclose(g.item(), 2 * 1.5 * 9 + 3 * np.cos(1.5))
    assert np.isclose(gg.item(), 2 * 9 - 3 * np.sin(1.5))
    assert _second_order(fastad, "recorded") is None and _second_order(fastad, "first") is None
