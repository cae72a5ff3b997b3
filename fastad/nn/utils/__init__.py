"""fastad.nn.utils: gradient clipping, parameter/vector conversion and sequence
padding, as torch.nn.utils."""
from fastad.nn.utils import clip_grad, convert_parameters, rnn  # noqa: F401
from fastad.nn.utils.clip_grad import (clip_grad_norm, clip_grad_norm_, clip_grad_value_,  # noqa: F401
                                       clip_grads_with_norm_, get_total_norm)
from fastad.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters  # noqa: F401
