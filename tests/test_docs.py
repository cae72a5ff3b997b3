"""The tables the docs build writes: one op-table row per registry entry, the
benchmark table from bench/results/latest.md (Sphinx itself runs in .ci/run)."""
import importlib.util
from pathlib import Path

from fastad.ops import OPS

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("fastad_tables", ROOT / "docs" / "_ext" / "fastad_tables.py")
tables = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tables)


def rows(rst):
    return [line for line in rst.splitlines() if line.startswith("   * - ")]


def test_op_table_has_every_op_with_its_pytorch_name():
    rst = tables.op_table(OPS)
    body = rows(rst)[1:]
    assert [r[len("   * - "):] for r in body] == [f"``{op.name}``" for op in OPS]
    assert "     - ``torch.nn.functional.relu6``" in rst
    assert "     - ``torch.Tensor.exp``" in rst.replace("``torch.exp``, ", "")
    assert tables.torch_name("nn.Linear") == "torch.nn.Linear"
    assert tables.torch_name("exp") == "torch.exp"


def test_bench_table_rows():
    md = ROOT / "bench" / "results" / "latest.md"
    n = sum(1 for line in md.read_text().splitlines() if line.startswith("| W"))
    assert len(rows(tables.bench_table(md))) == n + 1
