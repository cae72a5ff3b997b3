"""Devices: fastad runs on the CPU.  fastad.device parses PyTorch's device
strings, so code that names a device runs; asking for memory on any other
device raises what a CPU-only PyTorch raises."""

_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga",
          "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")


class NoCudaError(AssertionError, RuntimeError):
    """PyTorch without CUDA raises AssertionError; a RuntimeError too, for code
    that catches device errors as such."""


class device:
    """device("cpu"), device("cuda:0"), device("cuda", 1), device(other_device)."""
    __module__ = "fastad"
    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            type, index = type.type, type.index
        elif isinstance(type, int):
            type, index = "cuda", type
        elif isinstance(type, str) and ":" in type:
            type, _, idx = type.partition(":")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}:{idx}'")
            index = int(idx)
        if type not in _TYPES:
            raise RuntimeError(f"Expected one of {', '.join(_TYPES)} device type at start of "
                               f"device string: {type}")
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "index", index)

    def __setattr__(self, name, value):
        raise AttributeError(f"attribute '{name}' of 'torch.device' objects is not writable")

    def __repr__(self):
        idx = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{idx})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (self.type, self.index))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


CPU = device("cpu")


def check(dev):
    """None or a CPU device passes; CUDA raises PyTorch's CPU-build error, and
    any other device type what PyTorch raises for a backend it lacks."""
    if dev is None:
        return CPU
    d = dev if isinstance(dev, device) else device(dev)
    if d.type == "cpu":
        return CPU
    if d.type == "cuda":
        raise NoCudaError("Torch not compiled with CUDA enabled (fastad runs on the CPU only)")
    raise NotImplementedError(f"fastad runs on the CPU only: no '{d.type}' backend")


def set_default_device(device):
    """Only the CPU can be the default device."""
    check(device)


def get_default_device():
    return CPU
