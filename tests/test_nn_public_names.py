"""The public names of fastad.nn and fastad.nn.functional against PyTorch's:
fastad has no public name PyTorch lacks, and every PyTorch name fastad lacks
is listed below with the reason it is left out (a name implemented later
fails the test until it is struck off the list)."""
import inspect

import pytest

import fastad.nn as nn
import fastad.nn.functional as F

torch = pytest.importorskip("torch")

_3D = "3-D (volumetric) layers: not yet (the 1-D and 2-D forms exist)"
_LAZY = "lazy modules other than LazyLinear: not yet"
_INTERNAL = "PyTorch's typing/dispatch/TorchScript helpers, not an op"
_DEVICE = "multi-device or GPU-only (fastad is one CPU process; see fastad.distributed)"

MISSING_F = {
    **{n: _INTERNAL for n in (
        "Callable", "DType", "Optional", "ScalingType", "SwizzleType", "assert_int_or_pair",
        "boolean_dispatch", "handle_torch_function", "has_torch_function",
        "has_torch_function_unary", "has_torch_function_variadic")},
    **{n: _3D for n in (
        "adaptive_avg_pool3d", "adaptive_max_pool3d", "adaptive_max_pool3d_with_indices",
        "avg_pool3d", "conv3d", "conv_transpose3d", "lp_pool3d", "max_pool3d",
        "max_pool3d_with_indices", "max_unpool3d", "fractional_max_pool3d",
        "fractional_max_pool3d_with_indices")},
    "affine_grid": "spatial transformers: not yet",
    "grid_sample": "spatial transformers: not yet",
    "conv_tbc": "a legacy time-batch-channel convolution: not yet",
    "ctc_loss": "CTC (a stretch goal of issue 16): not yet",
    "embedding_bag": "not yet (embedding + a segment sum)",
    "fractional_max_pool2d": "random pooling regions: not yet",
    "fractional_max_pool2d_with_indices": "random pooling regions: not yet",
    "grouped_mm": "grouped/scaled low-precision GEMMs for GPUs",
    "scaled_grouped_mm": "grouped/scaled low-precision GEMMs for GPUs",
    "scaled_mm": "grouped/scaled low-precision GEMMs for GPUs",
    "linear_cross_entropy": "a fused linear + cross-entropy new in PyTorch 2.13: not yet",
}

MISSING_NN = {
    **{n: _3D for n in (
        "AdaptiveAvgPool3d", "AdaptiveMaxPool3d", "AvgPool3d", "CircularPad3d", "ConstantPad3d",
        "Conv3d", "ConvTranspose3d", "FractionalMaxPool3d", "LPPool3d", "MaxPool3d",
        "MaxUnpool3d", "ReflectionPad3d", "ReplicationPad3d", "ZeroPad3d")},
    **{n: _LAZY for n in (
        "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyConv1d", "LazyConv2d",
        "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d",
        "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d")},
    "UninitializedParameter": "LazyLinear holds an empty Parameter until its first call",
    "UninitializedBuffer": "no lazy buffers yet",
    "AdaptiveLogSoftmaxWithLoss": "not yet",
    "Buffer": "module buffers are registered with register_buffer only",
    "CTCLoss": "CTC (a stretch goal of issue 16): not yet",
    "Container": "PyTorch's deprecated base class",
    "CrossMapLRN2d": "a legacy Lua-Torch layer (LocalResponseNorm exists)",
    "DataParallel": _DEVICE,
    "SyncBatchNorm": _DEVICE,
    "EmbeddingBag": "not yet (embedding + a segment sum)",
    "FractionalMaxPool2d": "random pooling regions: not yet",
    "LinearCrossEntropyLoss": "a fused linear + cross-entropy new in PyTorch 2.13: not yet",
    "LinearCrossEntropyOptions": "a fused linear + cross-entropy new in PyTorch 2.13: not yet",
}


def _public(mod):
    return {n for n in dir(mod) if not n.startswith("_")}


def _callables(mod):
    return {n for n in _public(mod)
            if callable(getattr(mod, n)) and not inspect.ismodule(getattr(mod, n))}


def test_functional_has_torchs_names_only():
    assert not _public(F) - _public(torch.nn.functional)


def test_functional_lacks_only_what_is_listed():
    missing = _callables(torch.nn.functional) - _public(F)
    assert missing == set(MISSING_F), (
        f"newly missing: {sorted(missing - set(MISSING_F))}; "
        f"now present, strike off the list: {sorted(set(MISSING_F) - missing)}")


def test_nn_has_torchs_names_only():
    assert not _public(nn) - _public(torch.nn)


def test_nn_lacks_only_what_is_listed():
    classes = {n for n in _public(torch.nn) if inspect.isclass(getattr(torch.nn, n))}
    missing = classes - _public(nn)
    assert missing == set(MISSING_NN), (
        f"newly missing: {sorted(missing - set(MISSING_NN))}; "
        f"now present, strike off the list: {sorted(set(MISSING_NN) - missing)}")


@pytest.mark.parametrize("name", sorted(_callables(F) & _callables(torch.nn.functional)))
def test_functional_parameter_names_are_torchs(name):
    """fastad's signature takes PyTorch's parameters by PyTorch's names (the
    compiled activations report no signature and are checked by the op table;
    PyTorch's boolean_dispatch functions report only *args, **kwargs)."""
    try:
        ours = inspect.signature(getattr(F, name))
        theirs = inspect.signature(getattr(torch.nn.functional, name))
    except (TypeError, ValueError):
        pytest.skip("no Python signature")
    if list(theirs.parameters) == ["args", "kwargs"]:
        pytest.skip("PyTorch dispatches on return_indices; no signature to compare")
    mine = [p for p in ours.parameters if not p.startswith("_")]
    torchs = [p for p in theirs.parameters if not p.startswith("_")]
    assert mine == torchs


def test_module_has_torchs_methods_and_attributes():
    assert _public(nn.Module()) == _public(torch.nn.Module())


@pytest.mark.parametrize("name", sorted(n for n in _public(torch.nn.Module)
                                        if inspect.isfunction(getattr(torch.nn.Module, n))))
def test_module_method_parameter_names_are_torchs(name):
    ours = inspect.signature(getattr(nn.Module, name))
    theirs = inspect.signature(getattr(torch.nn.Module, name))
    assert [(p.name, p.kind) for p in ours.parameters.values()] == [
        (p.name, p.kind) for p in theirs.parameters.values()]
