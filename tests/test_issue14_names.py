"""Issue 14, points 4, 6 and 7: every PyTorch name listed there exists in
fastad (written once here as PyTorch's names, so nothing is silently dropped)."""
import pytest

import fastad

POINTWISE = """sign exp2 expm1 log2 log10 log1p rsqrt tan asin acos atan atan2 sinh cosh asinh
acosh atanh logit erf erfc erfinv floor ceil round trunc frac lerp reciprocal remainder fmod
floor_divide true_divide addcmul addcdiv hypot fmax fmin nan_to_num xlogy logaddexp nextafter
clamp_min clamp_max""".split()
IN_PLACE = """pow_ exp_ log_ sqrt_ abs_ sin_ cos_ tanh_ sigmoid_ neg_ sign_ exp2_ expm1_ log2_
log10_ log1p_ rsqrt_ tan_ asin_ acos_ atan_ atan2_ sinh_ cosh_ asinh_ acosh_ atanh_ logit_ erf_
erfc_ erfinv_ floor_ ceil_ round_ trunc_ frac_ lerp_ reciprocal_ remainder_ fmod_ floor_divide_
true_divide_ addcmul_ addcdiv_ hypot_ nan_to_num_ xlogy_ nextafter_ clamp_min_ clamp_max_ clamp_
clip_ square_ relu_""".split()
LINALG = """bmm mv dot outer inner einsum tensordot cross kron trace det inverse addmm baddbmm
cdist""".split()
LINALG_METHODS = "bmm mv dot outer inner cross kron trace det inverse addmm baddbmm".split()
TORCH_LINALG = "norm vector_norm matrix_norm inv det solve cholesky qr eigh svd".split()
DTYPES = "int8 int16 int32 uint8 float16 bfloat16 half int short".split()
FUNCTIONS_7 = """finfo iinfo set_printoptions device set_default_device FloatTensor DoubleTensor
LongTensor IntTensor BoolTensor""".split()
METHODS_7 = """cpu to type_as half data_ptr share_memory_ pin_memory new_zeros new_ones new_full
new_empty new_tensor cuda""".split()


@pytest.mark.parametrize("name", POINTWISE + LINALG + DTYPES + FUNCTIONS_7)
def test_torch_namespace_name_exists(name):
    assert hasattr(fastad, name), f"fastad.{name} is missing"


@pytest.mark.parametrize("name", POINTWISE
                         + LINALG_METHODS + IN_PLACE + METHODS_7 + ["device"])
def test_tensor_method_exists(name):
    assert hasattr(fastad.Tensor, name), f"Tensor.{name} is missing"


@pytest.mark.parametrize("name", TORCH_LINALG)
def test_linalg_name_exists(name):
    assert callable(getattr(fastad.linalg, name, None)), f"fastad.linalg.{name} is missing"


def test_device_and_backend_modules():
    assert fastad.cuda.is_available() is False
    assert fastad.backends.mps.is_available() is False
