"""Where utils.data draws its random numbers: the one seam to fastad's Generator.

A ``generator`` argument is None (fastad's global stream, so ``fastad.manual_seed``
makes a loader repeatable), a numpy ``Generator``, an object with a
``_randperm(n)`` method returning a permutation of range(n), or anything
``fastad.randperm``/``fastad.randint`` accept as ``generator=``.  fastad's
PyTorch-exact ``Generator`` plugs in there (``seeded`` already builds one when it
exists); orders equal PyTorch's only once randperm draws PyTorch's numbers.
"""
import numpy as np

import fastad


def _kw(generator):
    return {} if generator is None else {"generator": generator}


def seed(generator=None):
    """One non-negative int64 drawn from generator."""
    if isinstance(generator, np.random.Generator):
        return int(generator.integers(0, 2 ** 62))
    return int(fastad.randint(0, 2 ** 62, (1,), **_kw(generator)).item())


def _numpy_rng(generator):
    """A numpy Generator drawing from generator (seeded from it unless it is one)."""
    if isinstance(generator, np.random.Generator):
        return generator
    return np.random.default_rng(seed(generator))


def randperm(n, generator=None):
    """A permutation of range(n) as a list of ints."""
    if isinstance(generator, np.random.Generator):
        return generator.permutation(n).tolist()
    if hasattr(generator, "_randperm"):
        return [int(i) for i in generator._randperm(n)]
    return fastad.randperm(n, **_kw(generator)).tolist()


def randint(high, size, generator=None):
    return _numpy_rng(generator).integers(0, high, size).tolist()


def multinomial(weights, num_samples, replacement, generator=None):
    """Indices drawn with probabilities proportional to weights (float64 array)."""
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise RuntimeError("invalid multinomial distribution (encountering probability entry < 0)")
    total = weights.sum()
    if total <= 0:
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    if not replacement and num_samples > np.count_nonzero(weights):
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")
    rng = _numpy_rng(generator)
    return rng.choice(len(weights), size=num_samples, replace=replacement,
                      p=weights / total).tolist()


def seeded(seed):
    """A generator seeded with seed, drawing the same numbers in every process."""
    make = getattr(fastad, "Generator", None)
    if make is not None:
        return make().manual_seed(seed)
    return np.random.default_rng(seed)
