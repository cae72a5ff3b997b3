# cython: cdivision=True
"""The Tensor's array ops off the scalar graphs' path: views and joining,
reductions, matmul and softmax, creation, printing.  They are compiled apart
from fastad._tensor (setup.py: at a lower optimisation level, in parallel with
it); fastad._tensor imports their names at the end of its own import, so they
are its names as before."""
from libc.stdint cimport int64_t
from fastad._tape cimport *
from fastad._tensor cimport *

import builtins as _builtins
import collections
import numbers

import numpy as np

from fastad import _kernels as _K
from fastad import _random as _R
from fastad._device import check as _check_device
from fastad._tensor import (Size, _broadcast_msg, _half_call, bool_, exp, float16, float32,
                            float64, int8, int16, int32, int64, uint8)

include "_shapes.pxi"


include "_reductions.pxi"


include "_matmul.pxi"


include "_creation.pxi"


include "_repr.pxi"
