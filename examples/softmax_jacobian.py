"""The Jacobian of softmax, row by row with autograd, against its formula
J = diag(s) - s s^T."""
import importlib
import os

torch = importlib.import_module(os.environ.get("FASTAD_EXAMPLE_LIB", "fastad"))

z = torch.tensor([1.0, 2.0, 0.5, -1.0], dtype=torch.float64, requires_grad=True)
s = torch.softmax(z, dim=0)
rows = []
for i in range(4):
    row, = torch.autograd.grad(s[i], z, retain_graph=True)
    rows.append(row)
jacobian = torch.stack(rows)
s_ = s.detach()
expected = torch.eye(4, dtype=torch.float64) * s_ - s_.unsqueeze(1) * s_.unsqueeze(0)
print("softmax:", s_)
print("Jacobian by autograd:\n", jacobian)
print("max |autograd - formula| =", (jacobian - expected).abs().max().item())
