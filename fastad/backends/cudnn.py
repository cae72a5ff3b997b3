"""fastad.backends.cudnn: absent; programs set these flags for reproducibility."""
enabled = True
deterministic = False
benchmark = False


def is_available():
    return False


def version():
    return None
