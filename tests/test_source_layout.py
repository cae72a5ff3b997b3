"""Rules of the source tree that keep it one table: an op's name is known in a
few hand-written files only, the Tensor stub lists exactly the class's public
names, and the tests run from any checkout."""
import ast
import functools
import io
import os
import re
import tokenize

import pytest

import fastad
from fastad import _codegen, opdefs

PACKAGE = os.path.dirname(os.path.abspath(fastad.__file__))
TESTS = os.path.dirname(os.path.abspath(__file__))
GENERATED = {name[:-len(".tp")] for name in _codegen.TEMPLATES}
# the formula file, the table and an optional hand-written F wrapper
MAX_FILES = 3
# nn/init.py's gain table names activations as PyTorch's calculate_gain does;
# a .pyi stub only declares what the compiled class has (test below)
NOT_COUNTED = {os.path.join("nn", "init.py")}
# a row's name as the value of one of PyTorch's string options (not a hand list of
# ops): (file, name) -> the option
OPTION_VALUES = {
    (os.path.join("nn", "functional.py"), "tanh"): "F.gelu's approximate='tanh'",
    (os.path.join("nn", "_layers", "rnn.py"), "tanh"): "nn.RNN's nonlinearity",
    (os.path.join("nn", "_layers", "rnn.py"), "relu"): "nn.RNN's nonlinearity",
    (os.path.join("nn", "_rnn.py"), "tanh"): "the recurrent gates call the row's kernel by name",
    (os.path.join("nn", "_layers", "transformer.py"), "relu"): "the encoder's activation",
    (os.path.join("nn", "_layers", "transformer.py"), "gelu"): "the encoder's activation",
}


def _sources():
    """The hand-written source files under fastad/ (not the rendered templates,
    not Cython's C output)."""
    for folder, dirs, files in os.walk(PACKAGE):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for f in files:
            path = os.path.join(folder, f)
            rel = os.path.relpath(path, PACKAGE)
            if f in GENERATED or rel in NOT_COUNTED or f.endswith(".pyi"):
                continue
            if f.endswith(".c") and os.path.exists(path[:-2] + ".pyx"):
                continue
            if f.endswith((".py", ".pyx", ".pxi", ".pxd", ".tp", ".h", ".c")):
                yield rel, path


def _c_names(text):
    """Identifiers of C source outside comments, calls excluded."""
    text = re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)
    return {m.group(1) for m in re.finditer(r"(?<![\w.>])([A-Za-z_]\w*)(?!\s*\()", text)}


def _python_names(text):
    """The names a Python/Cython file knows an op by: definitions, bare names and
    string literals (a whole string, or its last dotted part: "F.gelu"), outside
    comments, docstrings and import lines.  Calls (foo(...), x.foo()) and other
    attributes are uses of an op, not knowledge of it."""
    text = re.sub(r"\{\{.*?\}\}", "_", text, flags=re.S)   # Tempita directives
    toks = [t for t in tokenize.generate_tokens(io.StringIO(text).readline)
            if t.type not in (tokenize.COMMENT, tokenize.NL)]
    starts = (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
    names, imports = set(), False
    for i, t in enumerate(toks):
        prev = toks[i - 1] if i else None
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if prev is None or prev.type in starts:
            imports = t.string in ("from", "import", "cimport")
        if t.type == tokenize.STRING:
            if (prev is None or prev.type in starts) and nxt.type == tokenize.NEWLINE:
                continue                      # a docstring
            value = re.sub(r"^[rbfuRBFU]*('''|\"\"\"|'|\")|('''|\"\"\"|'|\")$", "", t.string)
            names.add(value.rpartition(".")[2])
        elif t.type == tokenize.NAME and not imports:
            if prev is not None and prev.string == ".":
                continue
            if nxt is not None and nxt.string == "(" and prev.string not in ("def", "class"):
                continue
            names.add(t.string)
    return names


@functools.lru_cache(maxsize=None)      # read once for all the ops' tests
def _files_knowing():
    known = {}
    for rel, path in _sources():
        with open(path) as f:
            text = f.read()
        names = _c_names(text) if path.endswith((".h", ".c")) else _python_names(text)
        for op in opdefs.UNARY:
            if op.name in names and (rel, op.name) not in OPTION_VALUES:
                known.setdefault(op.name, []).append(rel)
    return known


def test_every_source_file_is_read():
    """The count below sees every hand-written file (one it cannot tokenize fails)."""
    rels = [rel for rel, _ in _sources()]
    assert "opdefs.py" in rels and "_formulas.pxi" in rels
    assert not GENERATED & {os.path.basename(r) for r in rels}


@pytest.mark.parametrize("op", opdefs.UNARY, ids=lambda op: op.name)
def test_an_op_is_known_in_at_most_three_source_files(op):
    """Adding or changing an op is its formula pair and its row: no hand lists
    elsewhere name it (issue 13's 22 places for sigmoid)."""
    files = _files_knowing().get(op.name, [])
    assert "opdefs.py" in files
    assert len(files) <= MAX_FILES, files


def test_the_count_sees_a_new_hand_list():
    """What the count catches and what it lets pass."""
    assert "sigmoid" in _python_names('ACTS = ["sigmoid", "tanh"]\n')
    assert "sigmoid" in _python_names('if name == "F.sigmoid":\n    pass\n')
    assert "sigmoid" in _python_names("def sigmoid(x):\n    return x\n")
    assert "sigmoid" in _python_names("CODES = {A: sigmoid}\n")
    assert "sigmoid" not in _python_names('def f(x):\n    """sigmoid"""\n    return x.sigmoid()\n')
    assert "sigmoid" not in _python_names("from fastad import sigmoid  # sigmoid\ny = sigmoid(x)\n")
    assert "sigmoid" in _c_names("static const char *name = sigmoid;")
    assert "exp" not in _c_names("/* exp */ double y = exp(x);")


def test_tensor_stub_matches_the_class():
    """fastad/_tensor.pyi lists every public method and attribute of Tensor, and
    nothing it lacks."""
    with open(os.path.join(PACKAGE, "_tensor.pyi")) as f:
        tree = ast.parse(f.read())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Tensor")
    stub = set()
    for node in cls.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            stub.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            stub.add(node.target.id)
        elif isinstance(node, ast.Assign):
            stub.update(t.id for t in node.targets)
    public = {n for n in dir(fastad.Tensor) if not n.startswith("_")}
    stub = {n for n in stub if not n.startswith("_")}
    assert sorted(public - stub) == [], "in the class, missing from the stub"
    assert sorted(stub - public) == [], "in the stub, missing from the class"


def test_tests_use_no_absolute_paths():
    """Tests find files relative to the checkout (or from the environment)."""
    pattern = re.compile(r"""["'](/work|/root|/home|/Users|/tmp)/""")
    offenders = []
    for folder, _, files in os.walk(TESTS):
        for f in files:
            if f.endswith(".py"):
                with open(os.path.join(folder, f)) as fh:
                    for n, line in enumerate(fh, 1):
                        if pattern.search(line):
                            offenders.append(f"{f}:{n}: {line.strip()}")
    assert offenders == []
