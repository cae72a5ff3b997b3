"""ModuleDict, ParameterList, ParameterDict and Unflatten: registration under
PyTorch's keys (state_dict, named_parameters), container behaviour, repr."""
import numpy as np

import fastad
import fastad.nn as nn
from conftest import needs_torch


def _keys(m):
    return [(k, tuple(v.shape)) for k, v in m.state_dict().items()]


@needs_torch
def test_state_dict_keys_match_torch():
    import torch

    def build(lib):
        m = lib.nn.Module()
        m.blocks = lib.nn.ModuleDict({"enc": lib.nn.Linear(3, 4), "norm": lib.nn.LayerNorm(4)})
        m.scales = lib.nn.ParameterList([lib.nn.Parameter(lib.ones(2)), lib.ones(3)])
        m.extra = lib.nn.ParameterDict({"b": lib.nn.Parameter(lib.zeros(1)), "a": lib.ones(2)})
        return m
    assert _keys(build(fastad)) == _keys(build(torch))


def test_containers_behave_like_their_python_types():
    d = nn.ModuleDict()
    d["a"] = nn.Linear(2, 2)
    d.update([("b", nn.ReLU())])
    assert list(d) == ["a", "b"] and "a" in d and len(d) == 2
    assert isinstance(d.pop("b"), nn.ReLU) and list(d.keys()) == ["a"]
    p = nn.ParameterList([fastad.ones(2)])
    p.append(fastad.zeros(3))
    assert len(p) == 2 and all(isinstance(x, nn.Parameter) for x in p)
    assert [n for n, _ in p.named_parameters()] == ["0", "1"]
    pd = nn.ParameterDict({"w": fastad.ones(2)})
    assert isinstance(pd["w"], nn.Parameter) and pd["w"].requires_grad


@needs_torch
def test_unflatten_matches_torch():
    import torch
    x = np.arange(24.0).reshape(2, 12)
    a, b = nn.Unflatten(1, (3, 4)), torch.nn.Unflatten(1, (3, 4))
    assert repr(a) == repr(b)
    np.testing.assert_array_equal(a(fastad.tensor(x)).numpy(), b(torch.tensor(x)).numpy())
    y = nn.Unflatten(-1, (2, 2))(fastad.tensor(x.reshape(2, 3, 4)))
    assert tuple(y.shape) == (2, 3, 2, 2)


@needs_torch
def test_parameter_container_and_module_reprs_match_pytorchs():
    import torch
    for make in [lambda lib: lib.nn.ParameterList([lib.nn.Parameter(lib.ones(2))]),
                 lambda lib: lib.nn.ParameterList([lib.nn.Parameter(lib.ones(2)),
                                                   lib.nn.Parameter(lib.ones(2, 3).double())]),
                 lambda lib: lib.nn.ParameterDict({"b": lib.nn.Parameter(lib.ones(1)),
                                                   "a": lib.nn.Parameter(lib.ones(2, 2))}),
                 lambda lib: lib.nn.ParameterList(), lambda lib: lib.nn.Sequential(),
                 lambda lib: lib.nn.Sequential(lib.nn.ParameterList([lib.nn.Parameter(
                     lib.ones(2)), lib.nn.Parameter(lib.ones(3))]))]:
        assert repr(make(fastad)) == repr(make(torch))
