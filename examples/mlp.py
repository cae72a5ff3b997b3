"""A small MLP (nn.Sequential, Adam) learning two interleaved spirals."""
import importlib
import math
import os

torch = importlib.import_module(os.environ.get("FASTAD_EXAMPLE_LIB", "fastad"))
nn = torch.nn
F = torch.nn.functional

torch.manual_seed(0)
n = 100
points, labels = [], []
for k in range(2):
    for i in range(n):
        r = i / n * 3
        t = 1.75 * i / n * 2 * math.pi + k * math.pi
        points.append([r * math.sin(t), r * math.cos(t)])
        labels.append(k)
X = torch.tensor(points)
Y = torch.tensor(labels)

model = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 2))
opt = torch.optim.Adam(model.parameters(), lr=0.02)
for epoch in range(600):
    loss = F.cross_entropy(model(X), Y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if epoch % 150 == 0:
        print(f"epoch {epoch}: loss {loss.item():.4f}")
accuracy = (model(X).argmax(dim=1) == Y).float().mean().item()
print(f"final loss {loss.item():.4f}, training accuracy {accuracy:.3f}")
