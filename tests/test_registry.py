"""The op registry covers the API: every public function of fastad, of Tensor and
of fastad.nn.functional (and every nn module) has a gradcheck entry in
fastad.ops.OPS or is listed in fastad.ops.NON_DIFFERENTIABLE with a reason."""
import inspect
import os
import re

import numpy as np
import pytest

import fastad as T
import fastad.nn as nn
import fastad.nn.functional as F
from fastad import ops

# API.md's differentiable names (kept here so the test runs without the file;
# test_api_md_list_matches re-reads it when it is present)
API_MATH = ["exp", "log", "sqrt", "abs", "pow", "sin", "cos", "sigmoid", "tanh", "relu",
            "softmax", "log_softmax", "clamp", "matmul", "sum", "mean", "max", "min", "where",
            "cat", "stack", "maximum", "minimum"]
API_TENSOR = ["t", "reshape", "view", "flatten", "squeeze", "unsqueeze", "transpose", "sum",
              "mean", "__getitem__", "T"]
API_OPERATORS = ["add", "sub", "mul", "div", "pow_number", "rpow_number", "pow_tensor", "neg",
                 "matmul_op", "iadd", "add_", "sub_", "mul_", "div_"]
API_F = ["sigmoid", "tanh", "relu", "relu6", "hardtanh", "leaky_relu", "prelu", "rrelu", "elu",
         "selu", "celu", "gelu", "silu", "mish", "softplus", "softsign", "logsigmoid",
         "hardsigmoid", "hardswish", "softmax", "log_softmax", "mse_loss", "l1_loss",
         "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss", "binary_cross_entropy",
         "binary_cross_entropy_with_logits", "kl_div", "linear"]
API_NN = ["Linear", "Sequential", "Sigmoid", "Tanh", "ReLU", "Hardtanh", "LeakyReLU", "PReLU",
          "RReLU", "ELU", "SELU", "GELU", "SiLU", "Softmax", "LogSoftmax", "MSELoss",
          "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "L1Loss",
          "SmoothL1Loss", "HuberLoss"]
# the brief's list of ops to cover, as registry names
BRIEF = ["add", "sub", "mul", "div", "pow_number", "rpow_number", "pow_tensor", "neg", "exp",
         "log", "sqrt", "abs", "sin", "cos", "sigmoid", "tanh", "relu", "sum", "mean", "max",
         "min", "matmul", "transpose", "t", "reshape", "flatten", "squeeze", "unsqueeze",
         "permute", "expand", "index_int", "index_slices", "index_list", "index_tensor",
         "index_mask", "cat", "stack", "where", "clamp", "maximum", "minimum", "softmax",
         "log_softmax"]

COVERED = ops.covered()


def _known(name):
    return name in COVERED or name in ops.NON_DIFFERENTIABLE


def test_registry_names_are_unique_and_entries_well_formed():
    assert len({op.name for op in ops.OPS}) == len(ops.OPS)
    for op in ops.OPS:
        assert op.cases, op.name
        for c in op.cases:
            assert isinstance(c, ops.Case) and all(isinstance(s, tuple) for s in c.shapes)
        assert op.domain[0] < op.domain[1]


def test_brief_ops_are_registered():
    names = {op.name for op in ops.OPS}
    assert not [n for n in BRIEF if n not in names]


@pytest.mark.parametrize("name", API_MATH)
def test_api_math_functions_are_registered(name):
    assert name in COVERED, f"fastad.{name} has no gradcheck entry"
    assert f"Tensor.{name}" in COVERED or name in ("cat", "stack", "where"), name


@pytest.mark.parametrize("name", API_TENSOR)
def test_api_tensor_methods_are_registered(name):
    assert f"Tensor.{name}" in COVERED, f"Tensor.{name} has no gradcheck entry"


def test_operators_are_registered():
    names = {op.name for op in ops.OPS}
    assert not [n for n in API_OPERATORS if n not in names]


@pytest.mark.parametrize("name", API_F)
def test_api_functional_is_registered_and_present(name):
    assert f"F.{name}" in COVERED, f"F.{name} has no gradcheck entry"
    assert callable(getattr(F, name, None)), f"fastad.nn.functional.{name} is missing"


@pytest.mark.parametrize("name", API_NN)
def test_api_modules_are_registered(name):
    assert f"nn.{name}" in COVERED


def _public_functions(obj, prefix):
    for n in dir(obj):
        if n.startswith("_"):
            continue
        v = getattr(obj, n)
        if inspect.ismodule(v) or not callable(v):
            continue
        yield f"{prefix}{n}"


def test_every_public_fastad_function_is_known():
    unknown = [n for n in _public_functions(T, "") if not _known(n)]
    assert not unknown, f"no gradcheck entry and not listed as non-differentiable: {unknown}"


def test_every_public_tensor_method_is_known():
    names = [f"Tensor.{n}" for n in dir(T.Tensor) if not n.startswith("_")]
    unknown = [n for n in names if not _known(n) and n not in _TENSOR_ATTRIBUTES]
    assert not unknown, f"no gradcheck entry and not listed as non-differentiable: {unknown}"


_TENSOR_ATTRIBUTES = {"Tensor.data", "Tensor.grad", "Tensor.grad_fn", "Tensor.requires_grad",
                      "Tensor.is_leaf", "Tensor.shape", "Tensor.ndim", "Tensor.dtype",
                      "Tensor.device"}


def test_every_public_functional_is_known():
    # a re-export of a package-level function (F.matmul is fastad.matmul) is
    # checked under the package name
    unknown = [n for n in _public_functions(F, "F.") if not _known(n)
               and not (getattr(F, n[2:]) is getattr(T, n[2:], None) and _known(n[2:]))]
    assert not unknown, f"no gradcheck entry and not listed as non-differentiable: {unknown}"


def test_every_nn_module_is_known():
    names = [f"nn.{n}" for n in dir(nn) if inspect.isclass(getattr(nn, n))
             and not n.startswith("_")]
    unknown = [n for n in names if not _known(n)]
    assert not unknown, f"no gradcheck entry and not listed as non-differentiable: {unknown}"


def test_non_differentiable_names_are_not_also_checked():
    assert not COVERED & set(ops.NON_DIFFERENTIABLE)


def test_every_entry_api_exists_in_fastad():
    """A registered name fastad lacks is reported as missing (and fails here)."""
    missing = {op.name: op.missing() for op in ops.OPS if op.missing()}
    assert not missing


def test_missing_function_is_reported_not_skipped():
    ghost = ops.OpInfo("F.ghost", ops._F("ghost"), (ops.case((3,)),), api=("F.ghost",))
    assert ghost.missing() == ["F.ghost"]


def test_api_md_list_matches():
    """When the contract file is at hand, its F names are all registered."""
    path = os.environ.get("FASTAD_API_MD")
    if not path or not os.path.exists(path):
        pytest.skip("the API contract is not at hand: set FASTAD_API_MD to its path")
    text = open(path).read()
    sect = text[text.index("## `fastad.nn.functional`"):text.index("## `fastad.nn`\n")]
    names = set(re.findall(r"`([a-z_0-9]+)\(?", sect)) - {"mean", "sum", "none", "input",
                                                          "reduction", "weight", "target"}
    names = {n for n in names if hasattr(F, n) or n in API_F}
    assert names <= {n[2:] for n in COVERED if n.startswith("F.")}


def test_draw_respects_domain_and_kinks():
    rng = np.random.default_rng(0)
    relu = ops.BY_NAME["F.relu6"]
    (a,) = relu.draw(rng, ((1000,),))
    assert a.min() >= relu.domain[0] - 0.1 and a.max() <= relu.domain[1] + 0.1
    for k in relu.kinks:
        assert np.abs(a - k).min() >= 0.1 - 1e-12
    (b,) = ops.BY_NAME["log"].draw(rng, ((1000,),))
    assert b.min() > 0
