"""ModuleDict, ParameterList, ParameterDict (registered under their keys or
indices, so state_dict keys are PyTorch's), and Unflatten."""
from collections import OrderedDict

from fastad.nn.modules import Module, Parameter, _Container

__all__ = ["ModuleDict", "ParameterList", "ParameterDict", "Unflatten"]


class _Mapping(Module):
    """What ModuleDict and ParameterDict share: the dict protocol over one
    registry (_registry), its keys the entries' names."""
    _registry = "_modules"

    def _entries(self):
        return self.__dict__[self._registry]

    def __getitem__(self, key):
        return self._entries()[key]

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


class ModuleDict(_Mapping):
    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def update(self, modules):
        pairs = modules.items() if hasattr(modules, "items") else modules
        for key, module in pairs:
            self[key] = module


def _as_parameter(value):
    return value if isinstance(value, Parameter) or value is None else Parameter(value)


class ParameterList(_Container):
    _registry = "_parameters"

    def __init__(self, values=None):
        super().__init__()
        if values is not None:
            self.extend(values)

    def _put(self, name, value):
        self.register_parameter(name, _as_parameter(value))

    def extra_repr(self):
        return "\n".join(f"({i}): Parameter containing: [{type(p).__name__} of size "
                         f"{'x'.join(map(str, p.shape))}]" for i, p in enumerate(self))


class ParameterDict(_Mapping):
    _registry = "_parameters"

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __setitem__(self, key, value):
        self.register_parameter(key, _as_parameter(value))

    def update(self, parameters):
        pairs = parameters.items() if hasattr(parameters, "items") else parameters
        for key, value in (sorted(pairs) if isinstance(parameters, dict) and
                           not isinstance(parameters, OrderedDict) else pairs):
            self[key] = value


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
