"""Sphinx configuration: pip install ".[docs]" && sphinx-build -W -b html docs docs/_build/html"""
import os
import sys

# fastad is the installed one (pip install ".[docs]", or -e for the checkout's)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "_ext"))

import fastad  # noqa: E402

project = "fastad"
author = "the fastad developers"
release = version = fastad.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.doctest",
              "fastad_tables"]
html_theme = "furo"
html_static_path = ["_static"]
html_title = f"fastad {release}"
exclude_patterns = ["_build", "_generated"]
autodoc_default_options = {"members": True, "undoc-members": True}
autodoc_member_order = "bysource"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
doctest_global_setup = "import fastad\nimport fastad as torch\nimport numpy as np"
