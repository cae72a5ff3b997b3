"""Gradients of MSE and cross-entropy, with autograd.grad and with backward,
against their closed forms."""
import importlib
import os

torch = importlib.import_module(os.environ.get("FASTAD_EXAMPLE_LIB", "fastad"))
F = torch.nn.functional

pred = torch.tensor([[0.5, 1.5], [2.0, -1.0]], dtype=torch.float64, requires_grad=True)
target = torch.tensor([[1.0, 1.0], [1.5, 0.0]], dtype=torch.float64)
loss = F.mse_loss(pred, target)
g, = torch.autograd.grad(loss, pred)
print("mse:", loss.item())
print("d mse / d pred (autograd):", g.tolist())
print("2 (pred - target) / n      :", (2 * (pred.detach() - target) / 4).tolist())

logits = torch.tensor([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]], dtype=torch.float64, requires_grad=True)
labels = torch.tensor([0, 2])
ce = F.cross_entropy(logits, labels)
ce.backward()
onehot = torch.zeros(2, 3, dtype=torch.float64)
onehot[0, 0] = 1.0
onehot[1, 2] = 1.0
print("cross entropy:", ce.item())
print("d ce / d logits (backward)      :", logits.grad.tolist())
print("(softmax - onehot) / batch size :",
      ((torch.softmax(logits.detach(), dim=1) - onehot) / 2).tolist())
