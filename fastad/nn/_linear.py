"""bilinear: y = x1^T A x2 + b per output feature, composed of fastad ops (one
GEMM of x1 with the weights laid out (in1, out * in2), then a product with x2
summed over in2)."""
from fastad._tensor import as_tensor


def bilinear(input1, input2, weight, bias=None):
    x1, x2, w = as_tensor(input1), as_tensor(input2), as_tensor(weight)
    out, in1, in2 = w.shape
    if x1.shape[:-1] != x2.shape[:-1]:
        raise RuntimeError("bilinear(): input batch dimensions do not match: got "
                           f"{list(x1.shape[:-1])} and {list(x2.shape[:-1])}")
    if x1.shape[-1] != in1 or x2.shape[-1] != in2:
        raise RuntimeError(f"bilinear(): input sizes do not match weight: got {x1.shape[-1]} and "
                           f"{x2.shape[-1]}, expected {in1} and {in2}")
    lead = tuple(x1.shape[:-1])
    t = x1.reshape(-1, in1) @ w.permute(1, 0, 2).reshape(in1, out * in2)
    y = (t.reshape(-1, out, in2) * x2.reshape(-1, 1, in2)).sum(-1).reshape(*lead, out)
    return y if bias is None else y + bias
