"""Issue 14, point 7: the integer and half dtypes, promotion, finfo/iinfo,
printing options, devices, legacy constructors and the public class names."""
import itertools
import pickle

import numpy as np
import pytest

import fastad
from conftest import assert_same, needs_torch

DTYPES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]


@needs_torch
@pytest.mark.parametrize("a,b", itertools.product(DTYPES, DTYPES))
def test_promotion_table_matches_torch(a, b, torch):
    ta, tb = getattr(torch, a), getattr(torch, b)
    fa, fb = getattr(fastad, a), getattr(fastad, b)
    assert str(fastad.promote_types(fa, fb)) == str(torch.promote_types(ta, tb))
    x, y = fastad.ones(2, dtype=fa), fastad.ones(2, dtype=fb)
    assert str(fastad.result_type(x, y)) == str(torch.result_type(torch.ones(2, dtype=ta),
                                                                  torch.ones(2, dtype=tb)))
    # a 0-d tensor and a Python number only count when of a higher category
    assert str(fastad.result_type(x, fastad.tensor(1, dtype=fb))) == str(
        torch.result_type(torch.ones(2, dtype=ta), torch.tensor(1, dtype=tb)))
    for number in (2, 2.5, True):
        assert str(fastad.result_type(x, number)) == str(torch.result_type(torch.ones(2, dtype=ta),
                                                                           number))


@needs_torch
@pytest.mark.parametrize("name", DTYPES[2:8])
def test_arithmetic_and_conversion_keep_the_dtype(name, torch):
    vals = np.array([1, 2, 100, 7])
    f = fastad.tensor(vals, dtype=getattr(fastad, name))
    t = torch.tensor(vals, dtype=getattr(torch, name))
    for op in (lambda x: x + x, lambda x: x * 3, lambda x: x - 1, lambda x: x / 2,
               lambda x: x // 3, lambda x: x % 3, lambda x: x.sum(), lambda x: x.abs(),
               lambda x: x.float(), lambda x: x.double(), lambda x: x.long(), lambda x: x > 5,
               lambda x: x[1:], lambda x: x.reshape(2, 2), lambda x: x.exp()):
        assert_same(op(f), op(t), tol=dict(rtol=1e-3, atol=1e-3))
    assert repr(f) == repr(t)


@needs_torch
def test_numpy_dtypes_map_to_their_own_tensors(torch):
    for np_dtype in (np.int32, np.int16, np.int8, np.uint8, np.float16):
        a = np.arange(4, dtype=np_dtype)
        assert str(fastad.tensor(a).dtype) == str(torch.tensor(a).dtype)
        assert str(fastad.from_numpy(a).dtype) == str(torch.from_numpy(a).dtype)


@needs_torch
def test_half_and_int_conversions(torch):
    a = np.array([0.1, 1.7, -2.5])
    assert_same(fastad.tensor(a).half(), torch.tensor(a).half(), tol=dict(rtol=1e-3, atol=0))
    assert_same(fastad.tensor(a).int(), torch.tensor(a).int())
    assert_same(fastad.tensor(a).short(), torch.tensor(a).short())
    assert_same(fastad.tensor(a).char(), torch.tensor(a).char())
    assert_same(fastad.tensor([1.0, 200.0]).byte(), torch.tensor([1.0, 200.0]).byte())
    assert_same(fastad.tensor(a).type_as(fastad.tensor([1])), torch.tensor(a).type_as(
        torch.tensor([1])))
    assert fastad.tensor(a).half().type() == "torch.HalfTensor"
    assert fastad.tensor(a).type("torch.IntTensor").dtype == fastad.int32
    for bad in ("torch.Foo", "float", "IntTensor", "numpy.IntTensor"):
        with pytest.raises(ValueError, match=f"^invalid type: '{bad}'$"):
            torch.tensor(a).type(bad)
        with pytest.raises(ValueError, match=f"^invalid type: '{bad}'$"):
            fastad.tensor(a).type(bad)
    with pytest.raises(AssertionError, match="not compiled with CUDA"):
        fastad.tensor(a).type("torch.cuda.FloatTensor")


@needs_torch
def test_half_unary_ops_compute_in_float_and_round_once(torch):
    a = np.linspace(-3, 3, 13)
    for name in ("sigmoid", "tanh", "exp", "sin", "relu"):
        assert_same(getattr(fastad.tensor(a, dtype=fastad.float16), name)(),
                    getattr(torch.tensor(a, dtype=torch.float16), name)(),
                    tol=dict(rtol=1e-3, atol=1e-3))


def test_float16_requires_grad_and_bfloat16_is_refused():
    assert fastad.zeros(2, dtype=fastad.float16, requires_grad=True).requires_grad
    with pytest.raises(RuntimeError, match="only Tensors of floating point"):
        fastad.zeros(2, dtype=fastad.int32, requires_grad=True)
    with pytest.raises(TypeError, match="bfloat16"):
        fastad.zeros(2, dtype=fastad.bfloat16)
    assert fastad.bfloat16.is_floating_point


@needs_torch
@pytest.mark.parametrize("name", ["float32", "float64", "float16"])
def test_finfo(name, torch):
    f, t = fastad.finfo(getattr(fastad, name)), torch.finfo(getattr(torch, name))
    for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(f, attr) == getattr(t, attr), attr
    assert repr(f) == repr(t)
    assert repr(fastad.finfo()) == repr(torch.finfo())


@needs_torch
@pytest.mark.parametrize("name", ["int64", "int32", "int16", "int8", "uint8"])
def test_iinfo(name, torch):
    f, t = fastad.iinfo(getattr(fastad, name)), torch.iinfo(getattr(torch, name))
    assert (f.bits, f.min, f.max, f.dtype) == (t.bits, t.min, t.max, t.dtype)
    assert repr(f) == repr(t)


@needs_torch
def test_set_printoptions(torch):
    a = np.linspace(0, 1, 2000)
    try:
        for kw in (dict(precision=2), dict(threshold=5, edgeitems=2), dict(sci_mode=True),
                   dict(linewidth=40), dict(profile="short"), dict(profile="default")):
            fastad.set_printoptions(**kw)
            torch.set_printoptions(**kw)
            for arr in (a[:7], a, a.reshape(40, 50)[:7, :9], np.array(3.14159)):
                assert repr(fastad.tensor(arr, dtype=fastad.float32)) == repr(
                    torch.tensor(arr, dtype=torch.float32))
    finally:
        fastad.set_printoptions(profile="default")
        torch.set_printoptions(profile="default")


@needs_torch
def test_device_objects(torch):
    for spec in ("cpu", "cuda", "cuda:1", "mps"):
        assert repr(fastad.device(spec)) == repr(torch.device(spec))
        assert str(fastad.device(spec)) == str(torch.device(spec))
    assert fastad.device("cuda", 0) == fastad.device("cuda:0")
    assert fastad.device("cpu") != "cpu"
    assert pickle.loads(pickle.dumps(fastad.device("cpu"))) == fastad.device("cpu")
    with pytest.raises(RuntimeError):
        fastad.device("gpu")
    x = fastad.ones(2)
    assert x.device == fastad.device("cpu") and x.device.type == "cpu" and not x.is_cuda
    assert x.to("cpu") is x and x.cpu() is x and x.to(fastad.device("cpu")) is x
    assert x.to("cpu", fastad.float64).dtype == fastad.float64
    assert x.to(fastad.ones(1, dtype=fastad.int32)).dtype == fastad.int32
    assert fastad.zeros(2, device="cpu").device.type == "cpu"


@needs_torch
def test_cuda_is_absent_with_torchs_error(torch):
    assert fastad.cuda.is_available() is False and fastad.cuda.device_count() == 0
    assert fastad.backends.mps.is_available() is False
    fastad.backends.cudnn.deterministic = True
    fastad.cuda.manual_seed_all(0)
    for f in (lambda lib: lib.zeros(2, device="cuda"), lambda lib: lib.ones(2).cuda(),
              lambda lib: lib.ones(2).to("cuda"), lambda lib: lib.tensor([1.0], device="cuda:0"),
              lambda lib: lib.randn(2, device=lib.device("cuda"))):
        with pytest.raises(AssertionError):
            f(torch)
        with pytest.raises(AssertionError):
            f(fastad)
        with pytest.raises(RuntimeError):
            f(fastad)
    fastad.set_default_device("cpu")
    assert fastad.get_default_device() == fastad.device("cpu")
    with pytest.raises(AssertionError):
        fastad.set_default_device("cuda")


def test_memory_methods():
    x = fastad.arange(6.0)
    assert x.data_ptr() == x.numpy().ctypes.data
    assert x[2:].data_ptr() == x.data_ptr() + 2 * 4
    assert fastad.tensor(1.0).data_ptr() != 0
    assert x.share_memory_() is x and x.pin_memory() is x and not x.is_pinned()


@needs_torch
@pytest.mark.parametrize("name", ["FloatTensor", "DoubleTensor", "LongTensor", "IntTensor",
                                  "BoolTensor"])
def test_legacy_constructors(name, torch):
    f, t = getattr(fastad, name), getattr(torch, name)
    assert_same(f([1, 0, 2]), t([1, 0, 2]))
    assert f(2, 3).shape == t(2, 3).shape and f(2, 3).dtype == getattr(fastad, str(
        t(2, 3).dtype)[6:])
    assert f((2, 3)).shape == t((2, 3)).shape


@needs_torch
def test_new_factories(torch):
    f, t = fastad.ones(2, dtype=fastad.float64), torch.ones(2, dtype=torch.float64)
    for m, args in (("new_zeros", (2, 3)), ("new_ones", ((3,),)), ("new_full", ((2,), 7)),
                    ("new_tensor", ([1, 2],))):
        assert_same(getattr(f, m)(*args), getattr(t, m)(*args))
    assert f.new_empty(4).shape == (4,) and f.new_empty(4).dtype == fastad.float64
    assert f.new_zeros(2, dtype=fastad.int32).dtype == fastad.int32


def test_public_classes_report_their_public_module():
    assert repr(fastad.Tensor) == "<class 'fastad.Tensor'>"
    assert repr(type(fastad.ones(1))) == "<class 'fastad.Tensor'>"
    assert fastad.Tensor.__module__ == "fastad"
    for cls in (fastad.dtype, fastad.Size, fastad.Generator, fastad.device, fastad.finfo,
                fastad.iinfo):
        assert cls.__module__ == "fastad", cls
    assert pickle.loads(pickle.dumps(fastad.ones(2))).tolist() == [1.0, 1.0]
