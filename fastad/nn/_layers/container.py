"""ModuleDict, ParameterList, ParameterDict (registered under their keys or
indices, so state_dict keys are PyTorch's), and Unflatten."""
from collections import OrderedDict

from fastad.nn.modules import Module, Parameter, _Container, _Registry

__all__ = ["ModuleDict", "ParameterList", "ParameterDict", "Unflatten"]


class _Mapping(_Registry):
    """What ModuleDict and ParameterDict share: the dict protocol, its keys the
    entries' names."""

    def __getitem__(self, key):
        return self._entries()[key]

    def __setitem__(self, key, value):
        self._put(key, value)

    def __delitem__(self, key):
        del self._entries()[key]

    def __len__(self):
        return len(self._entries())

    def __iter__(self):
        return iter(self._entries())

    def __contains__(self, key):
        return key in self._entries()

    def keys(self):
        return self._entries().keys()

    def items(self):
        return self._entries().items()

    def values(self):
        return self._entries().values()

    def pop(self, key):
        v = self[key]
        del self[key]
        return v

    def clear(self):
        self._entries().clear()

    def update(self, entries):
        pairs = entries.items() if hasattr(entries, "items") else entries
        for key, value in self._in_order(entries, pairs):
            self[key] = value

    @staticmethod
    def _in_order(entries, pairs):
        return pairs


class ModuleDict(_Mapping):
    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)


class _Parameters:
    """The parameter containers' registry: each entry made a Parameter."""
    _registry = "_parameters"

    def _put(self, name, value):
        if not (isinstance(value, Parameter) or value is None):
            value = Parameter(value)
        self.register_parameter(name, value)


def _entries_repr(items, kind):
    """PyTorch's lines for a parameter container's entries (kind(p): the list
    prints the dtype, the dict the tensor type)."""
    return "\n".join(
        f"  ({k}): {'Parameter' if isinstance(p, Parameter) else 'Tensor'} containing: "
        f"[{kind(p)} of size {'x'.join(map(str, p.shape))}]" for k, p in items)


class ParameterList(_Parameters, _Container):
    def __init__(self, values=None):
        super().__init__()
        if values is not None:
            self.extend(values)

    def extra_repr(self):
        return _entries_repr(enumerate(self), lambda p: p.dtype)


class ParameterDict(_Parameters, _Mapping):
    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    @staticmethod
    def _in_order(entries, pairs):
        # PyTorch sorts a plain dict's keys (an OrderedDict keeps its order)
        plain = isinstance(entries, dict) and not isinstance(entries, OrderedDict)
        return sorted(pairs) if plain else pairs

    def extra_repr(self):
        return _entries_repr(self.items(), lambda p: p.type())


class Unflatten(Module):
    """Expands dim of the input into unflattened_size."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, input):
        d = self.dim % input.dim()
        shape = tuple(input.shape)
        return input.reshape(shape[:d] + self.unflattened_size + shape[d + 1:])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
