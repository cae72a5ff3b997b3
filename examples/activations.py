"""Activation functions and their derivatives, computed with autograd.

Saves activations.png when matplotlib is installed (the tensors go straight
into plt.plot), and prints a few values either way."""
import importlib
import os

torch = importlib.import_module(os.environ.get("FASTAD_EXAMPLE_LIB", "fastad"))
F = torch.nn.functional

x = torch.linspace(-4, 4, 161, dtype=torch.float64, requires_grad=True)
curves = {}
for name in ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "silu", "softplus"]:
    y = getattr(F, name)(x)
    grad, = torch.autograd.grad(y.sum(), x)
    curves[name] = (y.detach(), grad)
    print(f"{name:<10} f(1) = {y[100].item():.6f}   f'(1) = {grad[100].item():.6f}")

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("(matplotlib is not installed: no plot)")
else:
    fig, axes = plt.subplots(2, 4, figsize=(12, 5.4), sharex=True)
    for ax, (name, (y, grad)) in zip(axes.flat, curves.items()):
        ax.axhline(0, color="0.8", lw=0.8)
        ax.plot(x.detach(), y, label="f(x)")
        ax.plot(x.detach(), grad, "--", label="f'(x), by backward")
        ax.set_title(name)
        ax.set_ylim(-1.5, 4.2)
    axes[0, 0].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(os.environ.get("FASTAD_EXAMPLE_OUT", "activations.png"), dpi=80)
    print("saved the plot")
