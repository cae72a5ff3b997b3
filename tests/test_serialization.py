"""save/load: round trips, and files that must be refused without running code."""
import io
import os
import pickle
import zipfile

import numpy as np
import pytest

import fastad


def same(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, fastad.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.requires_grad == b.requires_grad and b.is_leaf
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            same(x, y)
    else:
        assert a == b or (a != a and b != b)


def tensors():
    rng = np.random.default_rng(0)
    return [
        fastad.tensor(rng.standard_normal((3, 4)).astype(np.float32)),
        fastad.tensor(rng.standard_normal(5)),
        fastad.tensor(2.5), fastad.tensor(1.25, dtype=fastad.float64),
        fastad.tensor([1, -2, 3]), fastad.tensor([[True, False]]),
        fastad.tensor([0.1, 0.2], requires_grad=True), fastad.tensor(3.0, requires_grad=True),
        fastad.zeros(0, 3), fastad.tensor([float("nan"), float("inf"), -0.0]),
    ]


@pytest.mark.parametrize("k", range(10))
def test_tensor_round_trip(tmp_path, k):
    t = tensors()[k]
    path = str(tmp_path / "t.pt")
    fastad.save(t, path)
    same(t, fastad.load(path))


def test_state_dict_round_trip_path_and_buffer(tmp_path):
    obj = {"layer.weight": tensors()[0], "layer.bias": tensors()[1],
           "nested": {"a": [tensors()[2], (tensors()[4], 3)], "b": None},
           "step": 7, "lr": 0.01, "name": "adam", "flag": True, 3: "int key",
           "betas": (0.9, 0.999)}
    path = str(tmp_path / "sd.pt")
    fastad.save(obj, path)
    same(obj, fastad.load(path))
    buf = io.BytesIO()
    fastad.save(obj, buf)
    buf.seek(0)
    same(obj, fastad.load(buf))
    # a pathlib path works too, and map_location / weights_only are accepted
    fastad.save(obj, str(tmp_path / "sd2.pt"))
    same(obj, fastad.load(str(tmp_path / "sd2.pt"), map_location="cpu", weights_only=True))


def test_loaded_tensor_is_independent_and_trainable(tmp_path):
    w = fastad.tensor([1.0, 2.0], requires_grad=True)
    path = str(tmp_path / "w.pt")
    fastad.save({"w": w}, path)
    w2 = fastad.load(path)["w"]
    (w2 * w2).sum().backward()
    assert w2.grad.tolist() == [2.0, 4.0] and w.grad is None


def test_saving_a_non_leaf_saves_its_values(tmp_path):
    x = fastad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    path = str(tmp_path / "y.pt")
    fastad.save(y, path)
    z = fastad.load(path)
    assert z.tolist() == [3.0, 6.0] and z.is_leaf


class _Evil:
    """Unpickling it runs a shell command that creates the file marker."""
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_refuses_pickle_payload(tmp_path):
    marker = str(tmp_path / "pwned")
    path = str(tmp_path / "evil.pt")
    with open(path, "wb") as f:
        pickle.dump({"w": _Evil(marker)}, f)
    with pytest.raises(Exception):
        fastad.load(path)
    # an .npz whose array is an object (pickled) array
    path2 = str(tmp_path / "evil.npz")
    np.savez(path2, __fastad_manifest__=np.frombuffer(b'{"tensor": "t0", "dtype": "float32", '
                                                      b'"requires_grad": false}', dtype=np.uint8),
             t0=np.array([_Evil(marker)], dtype=object))
    with pytest.raises(Exception):
        fastad.load(path2)
    assert not os.path.exists(marker)


def test_refuses_truncated_and_garbage_files(tmp_path):
    path = str(tmp_path / "t.pt")
    fastad.save({"w": fastad.ones(100)}, path)
    data = open(path, "rb").read()
    for cut in (0, 10, len(data) // 2, len(data) - 5):
        p = str(tmp_path / f"cut{cut}.pt")
        with open(p, "wb") as f:
            f.write(data[:cut])
        with pytest.raises(Exception):
            fastad.load(p)
    p = str(tmp_path / "garbage.pt")
    with open(p, "wb") as f:
        f.write(b"not a file at all" * 10)
    with pytest.raises(Exception):
        fastad.load(p)


def test_refuses_zip_without_manifest(tmp_path):
    p = str(tmp_path / "plain.npz")
    np.savez(p, a=np.ones(3))
    with pytest.raises(Exception):
        fastad.load(p)


def test_refuses_unsupported_objects(tmp_path):
    with pytest.raises(TypeError):
        fastad.save({"f": lambda x: x}, str(tmp_path / "x.pt"))
