"""Every name of issue 14's points 1 and 2 (creation and random), 3 (indexing,
joining, reshaping) and 5 (reductions and comparisons), and the names added
to them since (diff, the triangles' indices, the in-place views), exists in
fastad wherever PyTorch has it: as a
function of fastad when torch.<name> exists, as a Tensor method when
torch.Tensor.<name> does."""
import pytest

import fastad
from conftest import needs_torch, optional_torch

POINTS_1_2 = """logspace randint_like normal bernoulli multinomial poisson Generator seed
initial_seed get_rng_state set_rng_state manual_seed new_zeros new_ones new_full new_empty new_tensor FloatTensor
DoubleTensor LongTensor IntTensor BoolTensor uniform_ normal_ bernoulli_ random_ exponential_ rand
randn randint randperm rand_like randn_like""".split()
ADDED = """diff tril_indices triu_indices t_ transpose_ swapaxes_ swapdims_ squeeze_ unsqueeze_
fill_diagonal_""".split()
POINT_3 = """concat hstack vstack dstack column_stack split chunk tensor_split unbind unflatten
swapaxes movedim narrow select index_select masked_select masked_fill masked_fill_ gather scatter
scatter_ scatter_add scatter_add_ index_add_ index_fill_ take take_along_dim nonzero argwhere tile
repeat repeat_interleave flip fliplr roll rot90 tril triu diag diagonal diag_embed broadcast_to
broadcast_tensors meshgrid unfold stride storage_offset""".split()
POINT_5 = """prod std var std_mean var_mean amax amin median mode logsumexp cumsum cumprod cummax
norm dist count_nonzero all any unique sort argsort topk kthvalue quantile nanmean nansum histc
histogram bincount ne lt le gt ge eq isclose isnan isinf isfinite sum mean max min argmax
argmin""".split()

torch = optional_torch()


def _spellings(name):
    """(where, name) for each place PyTorch has the name."""
    out = []
    if hasattr(torch, name):
        out.append(("fastad", name))
    if hasattr(torch.Tensor, name):
        out.append(("Tensor", name))
    return out


@needs_torch
@pytest.mark.parametrize("name", POINTS_1_2 + POINT_3 + POINT_5 + ADDED)
def test_name_exists_where_pytorch_has_it(name):
    places = _spellings(name)
    assert places, f"torch has no {name}: the list above is wrong"
    missing = [f"{w}.{n}" for w, n in places
               if not callable(getattr(fastad if w == "fastad" else fastad.Tensor, n, None))]
    assert not missing, f"missing from fastad: {missing}"


@needs_torch
def test_no_name_beyond_pytorch():
    """fastad adds no public function PyTorch lacks among these."""
    extra = [n for n in POINTS_1_2 + POINT_3 + POINT_5 + ADDED
             if hasattr(fastad, n) and not hasattr(torch, n)]
    assert not extra, extra
