"""Regenerates the pictures of the README and the documentation.

    python examples/make_figures.py [OUT_DIR]      (default: docs/_static)

Needs matplotlib (``pip install ".[docs]"``); the graph picture also needs the
graphviz package and Graphviz's dot program, and is left out without them.
Writes activations.png, himmelblau.png, mlp_graph.png and bench_ratios.png
(the last one from the table in bench/results/latest.md: no timing runs).
"""
import os
import runpy
import shutil
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import fastad  # noqa: E402
import fastad.nn.functional as F  # noqa: E402
from fastad import viz  # noqa: E402
from fastad.__main__ import bench  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MINIMA = [(3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)]
STARTS = [(0.0, 0.0), (-1.0, 1.0), (-1.0, -1.0), (4.5, -4.5), (1.5, 4.5), (-0.5, -4.5)]
# Newton's method goes to a stationary point, whatever it is: from (0.5, 0.5)
# it climbs to the local maximum (-0.27, -0.92), from (1, 4.5) it stops on a
# saddle; these eight reach the minima (two of them crossing over)
NEWTON_STARTS = [(4.0, 3.0), (-3.0, 3.0), (-4.0, -4.0), (4.0, -2.0), (2.0, 4.5), (-4.5, 4.0),
                 (-2.0, -4.5), (2.0, -4.5)]


def activations(out):
    """The example's own plot: each activation and its derivative by backward."""
    previous = os.environ.get("FASTAD_EXAMPLE_OUT")
    os.environ["FASTAD_EXAMPLE_OUT"] = str(out / "activations.png")
    try:
        runpy.run_path(str(ROOT / "examples" / "activations.py"), run_name="__main__")
    finally:
        if previous is None:
            del os.environ["FASTAD_EXAMPLE_OUT"]
        else:
            os.environ["FASTAD_EXAMPLE_OUT"] = previous


def himmelblau(x):
    return (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2


def trajectory(start, optimizer, lr, steps=1500):
    x = fastad.tensor(start, dtype=fastad.float64, requires_grad=True)
    opt = optimizer([x], lr=lr)
    path = [x.tolist()]
    for _ in range(steps):
        f = himmelblau(x)
        opt.zero_grad()
        f.backward()
        opt.step()
        path.append(x.tolist())
    return np.array(path)


def newton_trajectory(start, steps=12):
    """x <- x - H(x)^-1 grad f(x), the Hessian by fastad's second derivatives."""
    x = fastad.tensor(start, dtype=fastad.float64)
    path = [x.tolist()]
    for _ in range(steps):
        xg = x.detach().requires_grad_()
        g, = fastad.autograd.grad(himmelblau(xg), xg)
        H = fastad.autograd.functional.hessian(himmelblau, x)
        x = x - fastad.tensor(np.linalg.solve(H.numpy(), g.numpy()))
        path.append(x.tolist())
    return np.array(path)


def himmelblau_figure(out):
    g = np.linspace(-5, 5, 201)
    X, Y = np.meshgrid(g, g)
    Z = himmelblau((X, Y))
    fig, axes = plt.subplots(1, 3, figsize=(16, 5.4))
    methods = [("gradient descent, lr=0.005", STARTS, lambda s: trajectory(s, fastad.optim.SGD,
                                                                           0.005)),
               ("Adam, lr=0.05", STARTS, lambda s: trajectory(s, fastad.optim.Adam, 0.05)),
               ("Newton's method", NEWTON_STARTS, newton_trajectory)]
    for ax, (title, starts, run) in zip(axes, methods):
        ax.contourf(X, Y, np.log1p(Z), levels=14, cmap="Blues_r")
        for start in starts:
            path = run(start)
            ax.plot(path[:, 0], path[:, 1], lw=1.5,
                    marker="." if run is newton_trajectory else None)   # Newton's steps
            ax.plot(*path[0], "ko", ms=4)
            print(f"{title}: {start} -> ({path[-1, 0]:.6f}, {path[-1, 1]:.6f})")
        ax.plot(*zip(*MINIMA), "r*", ms=12, label="minima")
        ax.set_title(f"Himmelblau's function: {title}", fontsize=10)
        ax.set_xlim(-5, 5)
        ax.set_ylim(-5, 5)
        ax.set_aspect("equal")
    axes[0].legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(out / "himmelblau.png", dpi=70)
    plt.close(fig)


class MLP(fastad.nn.Module):
    """Two layers written out (nn.Sequential would fuse each Linear with its activation)."""

    def __init__(self):
        super().__init__()
        self.hidden = fastad.nn.Linear(3, 4)
        self.out = fastad.nn.Linear(4, 2)

    def forward(self, x):
        return self.out(fastad.tanh(self.hidden(x)))


def graph_figure(out):
    fastad.manual_seed(0)
    model = MLP()
    loss = F.mse_loss(model(fastad.randn(8, 3)), fastad.randn(8, 2))
    try:
        picture = viz.make_dot(loss, params=dict(model.named_parameters()))
    except ImportError as e:
        print(f"no mlp_graph.png: {e}")
        return
    if shutil.which("dot") is None:
        print("no mlp_graph.png: Graphviz's dot program is not on PATH")
        return
    picture.graph_attr["dpi"] = "80"
    picture.render(out / "mlp_graph", format="png", cleanup=True)


def main(argv):
    out = Path(argv[0]) if argv else ROOT / "docs" / "_static"
    out.mkdir(parents=True, exist_ok=True)
    activations(out)
    himmelblau_figure(out)
    graph_figure(out)
    if bench(["--plot", str(out / "bench_ratios.png")]) != 0:
        return 1
    print(f"figures in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
