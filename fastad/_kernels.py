"""fastad's compiled numeric kernels under one name (``from fastad import
_kernels as K``).

Every kernel is written once over Cython's ``floating`` (float32 and float64);
the ``def`` functions check their arguments with the GIL held and raise before
any work starts, and the loops run with the GIL released.  They live in
extension modules named after their concern, which this module only gathers:

- ``_runtime``: threads, the one loop driver, recycled output buffers;
- ``_linear``: GEMMs through numpy's OpenBLAS (linear layers, 2-D matmuls, convolutions);
- ``_elementwise``: activations (one formula pair per row of the op table) and
  the elementwise losses;
- ``_rows``: softmax and log_softmax, cross entropy, nll, prelu, layer_norm,
  training batch_norm, max pooling;
- ``_optim``: the SGD and Adam/AdamW updates;
- ``_recurrent``: the pointwise half of RNN, LSTM and GRU time steps.

Their C lives in ``fastad/csrc/*.h``.
"""
from fastad._runtime import (  # noqa: F401
    HAVE_OPENMP, PARALLEL_THRESHOLD, POOL_MIN, STREAM_THRESHOLD, _set_parallel_threshold,
    _set_stream_threshold, empty, empty_cache, empty_like, get_num_threads, pool_stats,
    set_num_threads)
from fastad._linear import (  # noqa: F401
    _set_linear_variant, _use_blas, blas_available, conv2d_backward, conv2d_forward,
    linear_forward, matmul_into, matmul_pair_into)
from fastad._elementwise import (  # noqa: F401
    ACTIVATIONS, LOSSES, _isa, activation_backward, activation_forward, bce_logits_backward,
    bce_logits_forward, loss_backward, loss_forward, rrelu_backward, rrelu_forward)
from fastad._rows import (  # noqa: F401
    batch_norm_backward, batch_norm_forward, cross_entropy_backward, cross_entropy_forward,
    cross_entropy_prob_backward, cross_entropy_prob_forward, layer_norm_backward,
    layer_norm_forward, log_softmax_backward, log_softmax_forward, max_pool2d_forward,
    nll_loss_backward, nll_loss_forward, prelu_backward, prelu_forward, softmax_backward,
    softmax_forward)
from fastad._optim import adam_step, sgd_step  # noqa: F401
from fastad._recurrent import rnn_step_backward, rnn_step_forward  # noqa: F401
