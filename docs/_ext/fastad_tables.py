"""Tables written when the docs build: the op table from fastad's op registry
and the benchmark table from bench/results/latest.md."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
OUT = Path(__file__).resolve().parent.parent / "_generated"

# fastad.ops api prefixes -> PyTorch's spelling
_TORCH_PREFIX = {"F": "torch.nn.functional", "nn": "torch.nn", "Tensor": "torch.Tensor"}


def torch_name(api):
    head, _, rest = api.partition(".")
    return f"{_TORCH_PREFIX[head]}.{rest}" if rest and head in _TORCH_PREFIX else f"torch.{api}"


def list_table(title, header, rows, widths):
    lines = [f".. list-table:: {title}", "   :header-rows: 1", f"   :widths: {widths}", ""]
    for row in [header] + rows:
        lines.append(f"   * - {row[0]}")
        lines.extend(f"     - {cell}" for cell in row[1:])
    return "\n".join(lines) + "\n"


def op_table(ops):
    """One row per registry entry: name, the public names it checks, PyTorch's
    equivalents, where gradcheck draws its inputs, and its shape cases."""
    rows = []
    for op in ops:
        if op.sampler is not None:
            domain = "own sampler"
        else:
            domain = f"[{op.domain[0]:g}, {op.domain[1]:g}]"
            if op.kinks:
                domain += ", 0.1 away from " + ", ".join(f"{k:g}" for k in op.kinks)
        api = ", ".join(f"``{a}``" for a in op.api) or "operator"
        torch = ", ".join(f"``{torch_name(a)}``" for a in op.api) if op.torch else "none (fastad only)"
        if op.torch and not op.api:
            torch = "the same operator"
        # a case whose inputs are all integer tensors or options has no shape label
        cases = "; ".join(f"``{c.label()}``" if c.label() else "(no float inputs)" for c in op.cases)
        rows.append([f"``{op.name}``", api, torch, domain, cases])
    return list_table(f"{len(ops)} differentiable ops", ["op", "fastad", "PyTorch",
                                                         "gradcheck domain", "shape cases"],
                      rows, "14 20 26 14 26")


def bench_table(path):
    lines = [line for line in Path(path).read_text().splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    header, body = cells[0], [r for r in cells[2:]]
    keep = [i for i, h in enumerate(header) if h != "note"]
    return list_table("bench/results/latest.md", [header[i] for i in keep],
                      [[r[i] or "-" for i in keep] for r in body],
                      " ".join(["6", "5", "16", "10"] + ["8"] * (len(keep) - 4)))


def write_tables(app=None):
    from fastad.ops import OPS
    OUT.mkdir(exist_ok=True)
    (OUT / "ops_table.rst").write_text(op_table(OPS))
    (OUT / "bench_table.rst").write_text(bench_table(ROOT / "bench" / "results" / "latest.md"))


def setup(app):
    app.connect("builder-inited", write_tables)
    return {"parallel_read_safe": True}
