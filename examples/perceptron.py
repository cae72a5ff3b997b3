"""Single- and multi-output perceptrons on a linearly separable problem."""
import importlib
import os

torch = importlib.import_module(os.environ.get("FASTAD_EXAMPLE_LIB", "fastad"))
F = torch.nn.functional

torch.manual_seed(0)
x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0],
                  [0.2, 0.1], [0.9, 0.8], [0.1, 0.9], [0.8, 0.2]])
y_and = torch.tensor([[0.0], [0.0], [0.0], [1.0], [0.0], [1.0], [0.0], [0.0]])

# one output: sigmoid(x w + b), trained on AND with BCE
w = torch.zeros(2, 1, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
for step in range(2000):
    p = torch.sigmoid(x @ w + b)
    loss = F.binary_cross_entropy(p, y_and)
    loss.backward()
    with torch.no_grad():
        w -= 1.0 * w.grad
        b -= 1.0 * b.grad
    w.grad.zero_()
    b.grad.zero_()
print(f"single output: loss {loss.item():.4f}, predictions {(p > 0.5).float().flatten().tolist()}")

# three outputs: softmax over classes "neither", "one", "both", with cross-entropy
labels = torch.tensor([0, 1, 1, 2, 0, 2, 1, 1])
W = torch.zeros(2, 3, requires_grad=True)
c = torch.zeros(3, requires_grad=True)
opt = torch.optim.SGD([W, c], lr=0.5)
for step in range(3000):
    loss = F.cross_entropy(x @ W + c, labels)
    opt.zero_grad()
    loss.backward()
    opt.step()
print(f"multi output: loss {loss.item():.4f}, predictions {(x @ W + c).argmax(dim=1).tolist()}")
