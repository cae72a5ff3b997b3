"""fastad.backends.mps: Apple's Metal backend, absent."""


def is_available():
    return False


def is_built():
    return False
