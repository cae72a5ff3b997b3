"""The PEP 517 build backend of `pip install -e .` (and `pip install .`):
setuptools' own, without its optional hooks that ask for build requirements and
for the metadata before the build.  Each of them runs setup.py once more (its
imports, compiler probes and the op table's code generation: about 4 s of a
fresh install's wall time each, measured) to answer what pyproject.toml already
says: no requirements beyond [build-system]'s.  Without them pip builds first
and reads the metadata from the built wheel (PEP 517's fallback, the wheel is
not built twice), so setup.py runs once."""
from setuptools.build_meta import build_editable, build_sdist, build_wheel  # noqa: F401
