"""Attention: scaled_dot_product_attention and multi_head_attention_forward,
as PyTorch's math reference computes them, composed of fastad's
differentiable ops (batched matmul, softmax, dropout), so they differentiate
again.  Boolean masks are constants, turned into additive -inf biases once."""
import math

import numpy as np

from fastad._tensor import array_of, as_tensor, cat, zeros
from fastad.nn._dropout import dropout
from fastad.nn.functional import linear, softmax


def _additive(mask, allowed_when, like):
    """A bool mask as a float bias: 0 where the position takes part, -inf
    where not (allowed_when: the bool value that means "takes part"); float
    masks are returned as they are (they may be differentiated)."""
    if mask is None:
        return None
    m = as_tensor(mask)
    a = array_of(m)
    if a.dtype != np.bool_:
        return m
    return as_tensor(np.where(a == allowed_when, 0.0, -np.inf).astype(array_of(like).dtype))


def _repeat_heads(t, times):
    """t (..., H, S, E) with each head repeated times (repeat_interleave on dim -3)."""
    shape = tuple(t.shape)
    lead, heads = shape[:-3], shape[-3]
    return (t.unsqueeze(-3).expand(*lead, heads, times, *shape[-2:])
            .reshape(*lead, heads * times, *shape[-2:]))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """softmax(q k^T * scale + mask) v over the last two dims; a bool attn_mask
    is True where a position may be attended to, is_causal the lower triangle."""
    q, k, v = as_tensor(query), as_tensor(key), as_tensor(value)
    tgt, src = q.shape[-2], k.shape[-2]
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    bias = None
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be "
                               "set when is_causal=True")
        bias = _additive(np.tril(np.ones((tgt, src), np.bool_)), True, q)
    elif attn_mask is not None:
        bias = _additive(attn_mask, True, q)
    if enable_gqa and k.dim() >= 3 and q.shape[-3] != k.shape[-3]:
        if q.shape[-3] % k.shape[-3]:
            raise RuntimeError("Number of heads in key and value must divide the number of heads "
                               "in query")
        k = _repeat_heads(k, q.shape[-3] // k.shape[-3])
        v = _repeat_heads(v, q.shape[-3] // v.shape[-3])
    scores = (q * scale) @ k.transpose(-2, -1)
    if bias is not None:
        scores = scores + bias
    weights = softmax(scores, -1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return weights @ v


def _in_projection(query, key, value, in_proj_weight, in_proj_bias, separate):
    """q, k, v projected: one GEMM for self-attention's packed weights, the
    packed weights' blocks otherwise (separate: (q_w, k_w, v_w))."""
    e = query.shape[-1]
    if separate is None and key is value and query is key:
        proj = linear(query, in_proj_weight, in_proj_bias)
        return proj[..., :e], proj[..., e:2 * e], proj[..., 2 * e:]
    w = separate if separate is not None else [in_proj_weight[i * e:(i + 1) * e]
                                               for i in range(3)]
    b = [None] * 3 if in_proj_bias is None else [in_proj_bias[i * e:(i + 1) * e]
                                                  for i in range(3)]
    return tuple(linear(x, ww, bb) for x, ww, bb in zip((query, key, value), w, b))


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
                                 dropout_p, out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    """nn.MultiheadAttention's computation over (L, N, E) inputs (or unbatched
    (L, E)); bool masks are True where a position may NOT be attended to."""
    if static_k is not None or static_v is not None:
        raise NotImplementedError("fastad's multi_head_attention_forward has no static_k/static_v")
    batched = query.dim() == 3
    if not batched:
        query, key, value = (t.unsqueeze(1) for t in (query, key, value)) if (
            key is not value or query is not key) else (query.unsqueeze(1),) * 3
        if key_padding_mask is not None:
            key_padding_mask = as_tensor(key_padding_mask).unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got "
                             f"{embed_dim}")
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to create "
                           "this mask.")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    kpm = _additive(key_padding_mask, False, query)
    mask = _additive(attn_mask, False, query)
    if is_causal and kpm is None and not need_weights:
        mask = None                                   # the causal flag says it all
    else:
        is_causal = False
    separate = (q_proj_weight, k_proj_weight, v_proj_weight) if use_separate_proj_weight else None
    q, k, v = _in_projection(query, key, value, in_proj_weight, in_proj_bias, separate)
    if mask is not None and mask.dim() == 2:
        mask = mask.unsqueeze(0)
    if bias_k is not None and bias_v is not None:
        k = cat([k, bias_k.expand(1, bsz, embed_dim)])
        v = cat([v, bias_v.expand(1, bsz, embed_dim)])
        mask, kpm = _pad_last(mask), _pad_last(kpm)
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    if add_zero_attn:
        k = cat([k, zeros((bsz * num_heads, 1, head_dim), dtype=k.dtype)], 1)
        v = cat([v, zeros((bsz * num_heads, 1, head_dim), dtype=v.dtype)], 1)
        mask, kpm = _pad_last(mask), _pad_last(kpm)
    src_len = k.shape[1]
    if kpm is not None:
        kpm = kpm.reshape(bsz, 1, 1, src_len).expand(bsz, num_heads, 1, src_len).reshape(
            bsz * num_heads, 1, src_len)
        mask = kpm if mask is None else mask + kpm
    if not training:
        dropout_p = 0.0
    if need_weights:
        scores = (q * math.sqrt(1.0 / head_dim)) @ k.transpose(-2, -1)
        weights = softmax(scores if mask is None else scores + mask, -1)
        if dropout_p > 0.0:
            weights = dropout(weights, dropout_p, True)
        out = weights @ v
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(1)
    else:
        if mask is not None:
            mask = (mask.unsqueeze(0) if mask.shape[0] == 1 else
                    mask.reshape(bsz, num_heads, -1, src_len))
        out = scaled_dot_product_attention(
            q.reshape(bsz, num_heads, tgt_len, head_dim), k.reshape(bsz, num_heads, src_len, head_dim),
            v.reshape(bsz, num_heads, src_len, head_dim), mask, dropout_p, is_causal)
        out = out.reshape(bsz * num_heads, tgt_len, head_dim)
        weights = None
    out = out.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
    if not batched:
        out = out.squeeze(1)
        if weights is not None:
            weights = weights.squeeze(0)
    return out, weights


def _pad_last(mask):
    """A mask with one more (attended) source position, as F.pad(mask, (0, 1))."""
    if mask is None:
        return None
    shape = tuple(mask.shape[:-1]) + (1,)
    return cat([mask, zeros(shape, dtype=mask.dtype)], -1)

