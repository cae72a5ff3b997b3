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
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, (y, grad) in curves.items():
        axes[0].plot(x.detach(), y, label=name)
        axes[1].plot(x.detach(), grad, label=name)
    axes[0].set_title("f(x)")
    axes[1].set_title("f'(x) by autograd")
    axes[0].legend()
    fig.savefig(os.environ.get("FASTAD_EXAMPLE_OUT", "activations.png"), dpi=80)
    print("saved the plot")
