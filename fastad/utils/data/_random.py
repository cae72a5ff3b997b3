"""Where utils.data draws its random numbers, in torch.utils.data's order and
from fastad's PyTorch-exact streams: the same seed gives PyTorch's batches.

A ``generator`` argument is None (the global stream) or a ``fastad.Generator``.
"""
import fastad

_CHUNK = 32     # RandomSampler draws with replacement in chunks of 32, as PyTorch


def seed(generator=None):
    """One non-negative int64 from generator: torch's
    ``torch.empty((), dtype=torch.int64).random_(generator=generator).item()``."""
    return int(fastad.empty((), dtype=fastad.int64).random_(generator=generator).item())


def _or_seeded(generator):
    """generator, or (as RandomSampler without one) a new one seeded from the
    global stream."""
    return seeded(seed()) if generator is None else generator


def randperm(n, generator=None):
    """A permutation of range(n) as a list of ints."""
    return fastad.randperm(n, generator=generator).tolist()


def sampler_permutations(n, num_samples, generator):
    """RandomSampler without replacement: whole permutations, then a cut one."""
    generator = _or_seeded(generator)
    for _ in range(num_samples // n):
        yield from randperm(n, generator)
    yield from randperm(n, generator)[:num_samples % n]


def sampler_draws(n, num_samples, generator):
    """RandomSampler with replacement: indices drawn uniformly, 32 at a time."""
    generator = _or_seeded(generator)
    for size in [_CHUNK] * (num_samples // _CHUNK) + [num_samples % _CHUNK]:
        yield from fastad.randint(high=n, size=(size,), generator=generator).tolist()


def multinomial(weights, num_samples, replacement, generator=None):
    """Indices drawn with probabilities proportional to weights (a float64 tensor)."""
    return fastad.multinomial(weights, num_samples, replacement, generator=generator).tolist()


def seeded(seed):
    """A generator seeded with seed, drawing the same numbers in every process."""
    return fastad.Generator().manual_seed(seed)
