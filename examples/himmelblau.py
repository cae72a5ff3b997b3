"""Minimising Himmelblau's function with Adam, from (0, 0) to its minimum at (3, 2)."""
import importlib
import os

torch = importlib.import_module(os.environ.get("FASTAD_EXAMPLE_LIB", "fastad"))

x = torch.tensor([0.0, 0.0], requires_grad=True)
opt = torch.optim.Adam([x], lr=1e-2)
for step in range(20000):
    f = (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2
    opt.zero_grad()
    f.backward()
    opt.step()
    if step % 2000 == 0:
        print(f"step {step}: x = [{x[0].item():.6f}, {x[1].item():.6f}], f(x) = {f.item():.6e}")
f = (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2
print(f"final: x = [{x[0].item():.6f}, {x[1].item():.6f}], f(x) = {f.item():.3e}")
