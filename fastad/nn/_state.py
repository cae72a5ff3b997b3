"""Module.state_dict and Module.load_state_dict as torch.nn.Module runs them:
module by module (its state-dict pre-hooks, its parameters, persistent
buffers and extra state, its children, its post-hooks), the version of each
module in the result's _metadata, and loading that collects missing and
unexpected keys and errors over the whole tree (load-state-dict pre-hooks
before a module's own entries, post-hooks after its subtree) and raises
them together at the end.  Module takes these functions as its methods."""
import warnings
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

from fastad._tensor import Tensor, no_grad

_EXTRA_STATE = "_extra_state"


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What load_state_dict returns, printed as PyTorch prints it."""
    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (f"_IncompatibleKeys(missing_keys={self.missing_keys}, "
                f"unexpected_keys={self.unexpected_keys})")

    __str__ = __repr__


def get_extra_state(self):
    """Return any extra state to include in the module's state_dict.

    A module that overrides this (and :meth:`set_extra_state`) has the value
    stored under ``prefix + "_extra_state"``; the base method is never called.
    """
    raise RuntimeError(
        "Reached a code path in Module.get_extra_state() that should never be called. "
        "Please file an issue at https://github.com/pytorch/pytorch/issues/new?template="
        "bug-report.yml to report this bug.")


def set_extra_state(self, state):
    """Set extra state contained in the loaded state_dict (see :meth:`get_extra_state`)."""
    raise RuntimeError(
        "Reached a code path in Module.set_extra_state() that should never be called. "
        "Please file an issue at https://github.com/pytorch/pytorch/issues/new?template="
        "bug-report.yml to report this bug.")


def _overrides(module, name, base):
    """Whether module's class defines its own get/set_extra_state."""
    return getattr(type(module), name, base) is not base


def _local_state(module):
    """module's own parameters and persistent buffers that are not None, in order."""
    skip = module.__dict__.get("_non_persistent_buffers_set", ())
    out = {k: v for k, v in module._parameters.items() if v is not None}
    out.update((k, v) for k, v in module._buffers.items() if v is not None and k not in skip)
    return out


def _save_to_state_dict(self, destination, prefix, keep_vars):
    """This module's own entries (not its children's) into destination."""
    for name, t in _local_state(self).items():
        destination[prefix + name] = t if keep_vars else t.detach()
    if _overrides(self, "get_extra_state", get_extra_state):
        destination[prefix + _EXTRA_STATE] = self.get_extra_state()


def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
    """A dict of the module's whole state: parameters and persistent buffers
    (detached unless keep_vars) and extra state, keyed by their dotted names.

    The positional form ``state_dict(destination, prefix, keep_vars)`` is
    deprecated, as in PyTorch.  Hooks registered with
    :meth:`register_state_dict_pre_hook` run before a module's entries are
    added, those of :meth:`register_state_dict_post_hook` after its children's.
    """
    if args:
        warnings.warn(
            "Positional args are being deprecated, use kwargs instead. Refer to "
            "https://pytorch.org/docs/main/generated/torch.nn.Module.html#torch.nn.Module."
            "state_dict for details.", FutureWarning, stacklevel=2)
        destination = args[0] if destination is None else destination
        prefix = args[1] if len(args) > 1 and prefix == "" else prefix
        keep_vars = args[2] if len(args) > 2 and keep_vars is False else keep_vars
    if destination is None:
        destination = OrderedDict()
        destination._metadata = OrderedDict()
    local_metadata = dict(version=self._version)
    if hasattr(destination, "_metadata"):
        destination._metadata[prefix[:-1]] = local_metadata
    for hook in self._state_dict_pre_hooks.values():
        hook(self, prefix, keep_vars)
    self._save_to_state_dict(destination, prefix, keep_vars)
    for name, module in self._modules.items():
        if module is not None:
            module.state_dict(destination=destination, prefix=prefix + name + ".",
                              keep_vars=keep_vars)
    for hook in self._state_dict_hooks.values():
        if hook(self, destination, prefix, local_metadata) is not None:
            raise RuntimeError("state_dict post-hook must return None")
    return destination


def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                          unexpected_keys, error_msgs):
    """This module's own entries (not its children's) copied from state_dict;
    what does not fit is appended to missing_keys, unexpected_keys, error_msgs."""
    for hook in self._load_state_dict_pre_hooks.values():
        hook(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
             error_msgs)
    local_state = _local_state(self)
    assign = local_metadata.get("assign_to_params_buffers", False)
    for name, param in local_state.items():
        key = prefix + name
        if key not in state_dict:
            if strict:
                missing_keys.append(key)
            continue
        source = state_dict[key]
        if not isinstance(source, Tensor):
            error_msgs.append(f'While copying the parameter named "{key}", expected torch.Tensor '
                              f"or Tensor-like object from checkpoint but received {type(source)}")
            continue
        if param.dim() == 0 and source.dim() == 1 and source.shape[0] == 1:
            source = source[0]      # a 0-d parameter saved by PyTorch 0.3 as shape (1,)
        if source.shape != param.shape:
            error_msgs.append(f"size mismatch for {key}: copying a param with shape "
                              f"{source.shape} from checkpoint, the shape in current model is "
                              f"{param.shape}.")
            continue
        try:
            with no_grad():
                if assign:
                    _assign(self, name, param, source)
                else:
                    param.copy_(source)
        except Exception as ex:
            error_msgs.append(f'While copying the parameter named "{key}", whose dimensions in '
                              f"the model are {param.size()} and whose dimensions in the "
                              f"checkpoint are {source.size()}, an exception occurred : "
                              f"{ex.args}.")
    extra_key = prefix + _EXTRA_STATE
    if _overrides(self, "set_extra_state", set_extra_state):
        if extra_key in state_dict:
            self.set_extra_state(state_dict[extra_key])
        elif strict:
            missing_keys.append(extra_key)
    elif strict and extra_key in state_dict:
        unexpected_keys.append(extra_key)
    if strict:
        for key in state_dict:
            if key.startswith(prefix) and key != extra_key:
                head = key[len(prefix):].split(".", 1)
                if (head[0] not in self._modules) if len(head) > 1 else (
                        head[0] not in local_state):
                    unexpected_keys.append(key)


def _assign(module, name, param, source):
    """load_state_dict(assign=True): the module takes source itself; a
    parameter stays a Parameter with its requires_grad."""
    from fastad.nn.modules import Parameter
    if isinstance(param, Parameter):
        if isinstance(source, Parameter):
            source.requires_grad_(param.requires_grad)
        else:
            source = Parameter(source, requires_grad=param.requires_grad)
    setattr(module, name, source)


def load_state_dict(self, state_dict, strict=True, assign=False):
    """Copy parameters, buffers and extra state from state_dict into this
    module and its descendants; returns ``(missing_keys, unexpected_keys)``.

    With ``strict`` (the default) any missing or unexpected key is an error;
    errors (also shape mismatches, which ``strict=False`` does not excuse)
    are raised together, after every entry that fits has been copied.  With
    ``assign`` the module takes the state dict's tensors instead of copying
    into its own (a parameter keeps its ``requires_grad``).
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
    missing_keys, unexpected_keys, error_msgs = [], [], []
    metadata = getattr(state_dict, "_metadata", None)
    state_dict = OrderedDict(state_dict)      # a copy the pre-hooks may change
    if metadata is not None:
        state_dict._metadata = metadata

    def load(module, local_state_dict, prefix=""):
        local_metadata = {} if metadata is None else metadata.get(prefix[:-1], {})
        if assign:
            local_metadata["assign_to_params_buffers"] = assign
        # strict=True always: missing and unexpected keys are collected either way
        module._load_from_state_dict(local_state_dict, prefix, local_metadata, True,
                                     missing_keys, unexpected_keys, error_msgs)
        for name, child in module._modules.items():
            if child is not None:
                child_prefix = prefix + name + "."
                load(child, {k: v for k, v in local_state_dict.items()
                             if k.startswith(child_prefix)}, child_prefix)
        incompatible_keys = _IncompatibleKeys(missing_keys, unexpected_keys)
        for hook in module._load_state_dict_post_hooks.values():
            if hook(module, incompatible_keys) is not None:
                raise AssertionError(
                    "Hooks registered with ``register_load_state_dict_post_hook`` are not "
                    "expected to return new values, if incompatible_keys need to be modified, "
                    "it should be done inplace.")

    load(self, state_dict)
    if strict:
        if unexpected_keys:
            error_msgs.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                ", ".join(f'"{k}"' for k in unexpected_keys)))
        if missing_keys:
            error_msgs.insert(0, "Missing key(s) in state_dict: {}. ".format(
                ", ".join(f'"{k}"' for k in missing_keys)))
    if error_msgs:
        raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
            type(self).__name__, "\n\t".join(error_msgs)))
    return _IncompatibleKeys(missing_keys, unexpected_keys)
