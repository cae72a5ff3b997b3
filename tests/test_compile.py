"""fastad.compile and Module.compile: torch.compile's signature, checks and
module wrapping, with the function run eagerly (tracing is issue 19's)."""
import numpy as np
import pytest

import fastad
import fastad.nn as nn
from conftest import needs_torch


def test_a_compiled_function_gives_the_eager_values_and_gradients():
    def step(w, x):
        return ((w * x).tanh() ** 2).sum()

    w, x = fastad.tensor([0.5, -1.0], requires_grad=True), fastad.tensor([2.0, 3.0])
    for compiled in (fastad.compile(step), fastad.compile(mode="max-autotune")(step),
                     fastad.compile(fullgraph=True, dynamic=False, backend="eager")(step)):
        w.grad = None
        y = compiled(w, x)
        y.backward()
        w2 = w.detach().clone().requires_grad_()
        step(w2, x).backward()
        assert y.item() == step(w, x).item()
        np.testing.assert_array_equal(w.grad.numpy(), w2.grad.numpy())
    assert fastad.compile(step).__name__ == "step"


def test_compile_as_a_bare_decorator():
    @fastad.compile
    def double(t):
        return t * 2

    assert double(fastad.tensor(3.0)).item() == 6.0


def test_a_compiled_module_is_wrapped_as_pytorchs():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    om = fastad.compile(model)
    assert type(om).__name__ == "OptimizedModule" and isinstance(om, nn.Module)
    assert om._orig_mod is model
    lin = fastad.compile(nn.Linear(2, 3))
    assert lin.in_features == 2         # other attributes: the module's
    assert list(om.state_dict()) == ["_orig_mod." + k for k in model.state_dict()]
    assert [p is q for p, q in zip(om.parameters(), model.parameters())] == [True] * 4
    x = fastad.randn(5, 3)
    np.testing.assert_array_equal(om(x).detach().numpy(), model(x).detach().numpy())
    om.eval()
    assert not model.training and not om.training
    model.train()
    assert om.training
    assert model.compile() is None and list(model.state_dict())[0] == "0.weight"


def test_compile_checks_its_arguments():
    with pytest.raises(RuntimeError, match="Unrecognized mode=fast, should be one of: default"):
        fastad.compile(lambda: 0, mode="fast")
    with pytest.raises(RuntimeError, match="Either mode or options can be specified"):
        fastad.compile(lambda: 0, mode="default", options={"trace.enabled": True})
    with pytest.raises(RuntimeError, match="Invalid backend: 'gpu'"):
        fastad.compile(lambda: 0, backend="gpu")
    with pytest.raises(AssertionError, match="A callable function is expected"):
        fastad.compile(3)
    with pytest.raises(RuntimeError, match="Unrecognized mode"):
        nn.Linear(2, 2).compile(mode="fast")


@needs_torch
def test_same_wrapping_and_messages_as_torch():
    import torch
    ours, theirs = fastad.compile(nn.Linear(2, 3)), torch.compile(torch.nn.Linear(2, 3))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    for kw in ({"mode": "fast"}, {"mode": "default", "options": {}}, {"backend": "gpu"}):
        messages = []
        for lib in (fastad, torch):
            with pytest.raises(RuntimeError) as err:
                lib.compile(lambda: 0, **kw)
            messages.append((type(err.value).__name__, str(err.value)))
        assert messages[0] == messages[1]
