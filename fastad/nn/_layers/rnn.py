"""RNN, LSTM, GRU and their cells, with PyTorch's parameters (weight_ih_l0,
weight_hh_l0, bias_ih_l0, bias_hh_l0, ..._reverse; gates in PyTorch's order:
i, f, g, o and r, z, n) and init: every parameter U(-1/sqrt(hidden),
1/sqrt(hidden)) in registration order, so the same seed gives PyTorch's weights.
Each layer and direction is one recurrence (fastad/nn/_rnn.py)."""
import math
import numbers
import warnings

from fastad._tensor import cat, empty, stack, zeros
from fastad.nn import functional as F
from fastad.nn import init
from fastad.nn._rnn import layer
from fastad.nn.utils.rnn import PackedSequence
from fastad.nn.modules import Module, Parameter, _non_defaults

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _reset(module):
    stdv = 1.0 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0
    for w in module.parameters():
        init.uniform_(w, -stdv, stdv)


def _merge(new, old):
    """new's rows, then old's rows past them (a packed batch's states, when only
    the first rows ran a step)."""
    if old is None or new.shape[0] >= old.shape[0]:
        return new
    return cat([new, old[new.shape[0]:]])


def _initial(hx, batch, hidden, like):
    return zeros((batch, hidden), dtype=like.dtype) if hx is None else hx


class RNNBase(Module):
    """The multi-layer, optionally bidirectional recurrence the three share."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
                or not 0 <= dropout <= 1):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}")
        if not isinstance(hidden_size, int):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size != 0:
            raise NotImplementedError("fastad's LSTM has no proj_size")
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, proj_size
        directions = 2 if bidirectional else 1
        gate_size = _GATES[mode] * hidden_size
        self._flat_weights_names = []
        for lay in range(num_layers):
            for d in range(directions):
                size_in = input_size if lay == 0 else hidden_size * directions
                suffix = f"_l{lay}" + ("_reverse" if d else "")
                shapes = [("weight_ih", (gate_size, size_in)), ("weight_hh", (gate_size, hidden_size))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                for name, shape in shapes:
                    setattr(self, name + suffix, Parameter(empty(shape, dtype=dtype)))
                    self._flat_weights_names.append(name + suffix)
        self.reset_parameters()

    def reset_parameters(self):
        _reset(self)

    def _weights(self, lay, d):
        suffix = f"_l{lay}" + ("_reverse" if d else "")
        return [getattr(self, n + suffix) if self.bias or n.startswith("weight") else None
                for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]

    def _check_input(self, input):
        if input.dim() not in (2, 3):
            raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got "
                             f"{input.dim()}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.shape[-1]}")

    def _check_hidden(self, hx, batched, batch, what="hx"):
        directions = 2 if self.bidirectional else 1
        expected = (self.num_layers * directions,) + ((batch,) if batched else ()) + (
            self.hidden_size,)
        if hx.dim() != len(expected):
            raise RuntimeError(f"For {'batched' if batched else 'unbatched'} {len(expected)}-D "
                               f"input, {what} should also be {len(expected)}-D but got "
                               f"{hx.dim()}-D tensor")
        if tuple(hx.shape) != expected:
            raise RuntimeError(f"Expected hidden size {expected}, got {list(hx.shape)}")

    def _run(self, input, h0, c0):
        """(output, h_n, c_n or None) for a batched, time-major input."""
        directions = 2 if self.bidirectional else 1
        hid = self.hidden_size
        x, h_n, c_n = input, [], []
        for lay in range(self.num_layers):
            outs = []
            for d in range(directions):
                k = lay * directions + d
                res = layer(self.mode, x, h0[k], None if c0 is None else c0[k],
                            *self._weights(lay, d), reverse=bool(d))
                last = 0 if d else -1
                outs.append(res[..., :hid])
                h_n.append(res[last, :, :hid])
                if c0 is not None:
                    c_n.append(res[last, :, hid:2 * hid])
            x = outs[0] if directions == 1 else cat(outs, 2)
            if self.dropout and self.training and lay < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        return x, stack(h_n), (stack(c_n) if c0 is not None else None)

    def _run_packed(self, data, batch_sizes, h0, c0):
        """(data, h_n, c_n or None) of a PackedSequence: each run of steps with
        the same batch size is one recurrence over its block of data (rows
        beyond it are sequences that have ended and keep their last state; the
        reverse direction starts each sequence from h0 at its own end)."""
        directions = 2 if self.bidirectional else 1
        hid = self.hidden_size
        runs, start = [], 0         # (first row, steps, batch) of equal batch sizes
        for t, b in enumerate(batch_sizes):
            if t == 0 or b != runs[-1][2]:
                runs.append([start, 0, b])
            runs[-1][1] += 1
            start += b
        x, h_n, c_n = data, [], []
        for lay in range(self.num_layers):
            outs = []
            for d in range(directions):
                k = lay * directions + d
                h0k, c0k = h0[k], (None if c0 is None else c0[k])
                h, c = (h0k[:runs[-1][2]], None if c0k is None else c0k[:runs[-1][2]]) if d \
                    else (h0k, c0k)
                blocks = []
                for first, steps, b in (reversed(runs) if d else runs):
                    if d:       # back in time the batch grows: sequences ending here join
                        h, c = _merge(h, h0k[:b]), _merge(c, None if c0k is None else c0k[:b])
                    xb = x[first:first + steps * b].reshape(steps, b, x.shape[-1])
                    res = layer(self.mode, xb, h[:b], None if c is None else c[:b],
                                *self._weights(lay, d), reverse=bool(d))
                    blocks.append(res[..., :hid].reshape(steps * b, hid))
                    row = res[0 if d else -1]
                    h = _merge(row[:, :hid], h)
                    c = _merge(row[:, hid:2 * hid], c) if c is not None else None
                outs.append(cat(blocks[::-1] if d else blocks))
                h_n.append(h)
                if c is not None:
                    c_n.append(c)
            x = outs[0] if directions == 1 else cat(outs, 1)
            if self.dropout and self.training and lay < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        return x, stack(h_n), (stack(c_n) if c0 is not None else None)

    def _forward_packed(self, packed, hx):
        data, batch_sizes, sorted_indices, unsorted_indices = packed
        if data.dim() != 2:
            raise RuntimeError(f"input must have 2 dimensions, got {data.dim()}")
        if data.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {data.shape[-1]}")
        lstm = self.mode == "LSTM"
        batch_sizes = [int(b) for b in batch_sizes.tolist()]
        batch = batch_sizes[0]
        directions = 2 if self.bidirectional else 1
        if hx is None:
            zero = zeros((self.num_layers * directions, batch, self.hidden_size),
                         dtype=data.dtype)
            states = [zero, zero if lstm else None]
        else:
            states = list(hx) if lstm else [hx, None]
            for s, what in zip(states, ("hx[0]", "hx[1]") if lstm else ("hx",)):
                self._check_hidden(s, True, batch, what)
            if sorted_indices is not None:
                states = [None if s is None else s.index_select(1, sorted_indices)
                          for s in states]
        output, h_n, c_n = self._run_packed(data, batch_sizes, *states)
        if unsorted_indices is not None:
            h_n = h_n.index_select(1, unsorted_indices)
            c_n = None if c_n is None else c_n.index_select(1, unsorted_indices)
        output = PackedSequence(output, packed.batch_sizes, sorted_indices, unsorted_indices)
        return output, ((h_n, c_n) if lstm else h_n)

    def forward(self, input, hx=None):
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        self._check_input(input)
        batched = input.dim() == 3
        lstm = self.mode == "LSTM"
        if not batched:
            input = input.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        batch = input.shape[1]
        states = [None, None]
        if hx is not None:
            states = list(hx) if lstm else [hx, None]
            for s, what in zip(states, ("hx[0]", "hx[1]") if lstm else ("hx",)):
                self._check_hidden(s, batched, batch, what if lstm else "hx")
            if not batched:
                states = [None if s is None else s.unsqueeze(1) for s in states]
        directions = 2 if self.bidirectional else 1
        if states[0] is None:
            states[0] = zeros((self.num_layers * directions, batch, self.hidden_size),
                              dtype=input.dtype)
            if lstm:
                states[1] = states[0]
        output, h_n, c_n = self._run(input, *states)
        if not batched:
            output, h_n = output.squeeze(1), h_n.squeeze(1)
            c_n = None if c_n is None else c_n.squeeze(1)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, ((h_n, c_n) if lstm else h_n)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + _non_defaults(self, (
            ("num_layers", 1), ("bias", True), ("batch_first", False), ("dropout", 0),
            ("bidirectional", False), ("nonlinearity", "tanh")))


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu)."""

    def __init__(self, *args, **kwargs):
        nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if len(args) > 3:
            nonlinearity, args = args[3], args[:3] + args[4:]
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             "'relu'.")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", *args, **kwargs)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory: gates i, f, g, o; forward returns
    (output, (h_n, c_n))."""

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit: gates r, z, n, with b_hn inside r's product."""

    def __init__(self, *args, **kwargs):
        super().__init__("GRU", *args, **kwargs)


class RNNCellBase(Module):
    """One step: the layer's recurrence over a sequence of length one."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = Parameter(empty((num_chunks * hidden_size, input_size), dtype=dtype))
        self.weight_hh = Parameter(empty((num_chunks * hidden_size, hidden_size), dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(num_chunks * hidden_size, dtype=dtype))
            self.bias_hh = Parameter(empty(num_chunks * hidden_size, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        _reset(self)

    def _step(self, mode, input, hx, cx=None):
        """(h', c' or None) for input (B, I) or (I,) and states of its batch shape."""
        if input.dim() not in (1, 2):
            raise ValueError(f"{type(self).__name__}: Expected input to be 1D or 2D, got "
                             f"{input.dim()}D instead")
        if hx is not None and hx.dim() != input.dim():
            raise ValueError(f"{type(self).__name__}: Expected hidden to be "
                             f"{input.dim()}D, got {hx.dim()}D instead")
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)
        h0, c0 = (s if s is None or batched else s.unsqueeze(0) for s in (hx, cx))
        h0 = _initial(h0, x.shape[0], self.hidden_size, x)
        if mode == "LSTM":
            c0 = _initial(c0, x.shape[0], self.hidden_size, x)
        res = layer(mode, x.unsqueeze(0), h0, c0, self.weight_ih, self.weight_hh, self.bias_ih,
                    self.bias_hh)[0]
        hid = self.hidden_size
        h, c = res[:, :hid], (res[:, hid:2 * hid] if mode == "LSTM" else None)
        if not batched:
            h, c = h.squeeze(0), (None if c is None else c.squeeze(0))
        return h, c

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + _non_defaults(self, (
            ("bias", True), ("nonlinearity", "tanh")))


class RNNCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        if nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {nonlinearity}")
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        return self._step("RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU", input, hx)[0]


class LSTMCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        h, c = self._step("LSTM", input, *((None, None) if hx is None else hx))
        return h, c


class GRUCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        return self._step("GRU", input, hx)[0]

