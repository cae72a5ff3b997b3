"""The chain rule on one graph: dy2/dy1, dy1/dw1 and dy2/dw1, with retain_graph."""
import importlib
import os

torch = importlib.import_module(os.environ.get("FASTAD_EXAMPLE_LIB", "fastad"))

x = torch.tensor(2.0)
w1 = torch.tensor(3.0, requires_grad=True)
w2 = torch.tensor(-1.5, requires_grad=True)
y1 = torch.tanh(w1 * x)
y2 = (w2 * y1) ** 2

dy2_dy1, = torch.autograd.grad(y2, y1, retain_graph=True)
dy1_dw1, = torch.autograd.grad(y1, w1, retain_graph=True)
dy2_dw1, = torch.autograd.grad(y2, w1)
print(f"dy2/dy1 = {dy2_dy1.item():.8f}")
print(f"dy1/dw1 = {dy1_dw1.item():.8f}")
print(f"dy2/dw1 = {dy2_dw1.item():.8f}")
print(f"dy2/dy1 * dy1/dw1 = {(dy2_dy1 * dy1_dw1).item():.8f}")
