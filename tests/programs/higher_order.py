"""Autograd beyond one backward, as popular code writes it: a physics-informed
network solving u'' = -u (autograd.grad with create_graph=True and
grad_outputs=torch.ones_like, twice), MAML's inner step on a sine regression
task (fast weights from autograd.grad(create_graph=True) through F.linear),
autograd.functional's jacobian, hessian, vjp and hvp, tensor hooks and
retain_grad, and a custom Function with ctx.needs_input_grad,
mark_non_differentiable and once_differentiable, checked by gradcheck.
Run with the library named by argv[1] or FASTAD_PROGRAM_LIB (fastad or torch)."""
import math
import os
import sys

if (sys.argv[1:] or [os.environ.get("FASTAD_PROGRAM_LIB", "fastad")])[0] == "torch":
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.autograd import Function
    from torch.autograd.function import once_differentiable
else:
    import fastad as torch
    import fastad.nn as nn
    import fastad.nn.functional as F
    from fastad.autograd import Function
    from fastad.autograd.function import once_differentiable

torch.manual_seed(0)

# PINN: u'' + u = 0, u(0) = 0, u'(0) = 1 on [0, pi]
net = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1))
opt = torch.optim.Adam(net.parameters(), lr=1e-2)
x = torch.linspace(0, math.pi, 32).view(-1, 1).requires_grad_(True)
x0 = torch.zeros(1, 1, requires_grad=True)
for step in range(150):
    u = net(x)
    du = torch.autograd.grad(u, x, grad_outputs=torch.ones_like(u), create_graph=True)[0]
    d2u = torch.autograd.grad(du, x, grad_outputs=torch.ones_like(du), create_graph=True)[0]
    u0 = net(x0)
    du0 = torch.autograd.grad(u0.sum(), x0, create_graph=True)[0]
    loss = (d2u + u).pow(2).mean() + u0.pow(2).sum() + (du0 - 1).pow(2).sum()
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 50 == 0:
        print(step, loss.item())
with torch.no_grad():
    test = torch.tensor([[0.5], [1.5], [2.5]])
    print(net(test).squeeze(), torch.sin(test).squeeze())

# MAML on sine tasks, functional forward with fast weights
model = nn.Sequential(nn.Linear(1, 20), nn.ReLU(), nn.Linear(20, 1))
meta_opt = torch.optim.Adam(model.parameters(), lr=1e-3)


def forward(x, params):
    h = F.relu(F.linear(x, params[0], params[1]))
    return F.linear(h, params[2], params[3])


for it in range(30):
    meta_loss = 0.0
    for task in range(4):
        amp = torch.rand(1).item() * 4 + 1
        phase = torch.rand(1).item() * math.pi
        xs = torch.rand(10, 1) * 10 - 5
        ys = amp * torch.sin(xs + phase)
        params = list(model.parameters())
        inner = F.mse_loss(forward(xs[:5], params), ys[:5])
        grads = torch.autograd.grad(inner, params, create_graph=True)
        fast = [p - 0.01 * g for p, g in zip(params, grads)]
        meta_loss = meta_loss + F.mse_loss(forward(xs[5:], fast), ys[5:])
    meta_opt.zero_grad()
    (meta_loss / 4).backward()
    meta_opt.step()
    if it % 10 == 0:
        print(it, meta_loss.item() / 4, model[0].weight.grad.abs().sum().item())

# autograd.functional


def f(x):
    return torch.stack([x[0] ** 2 * x[1], torch.sin(x[1]) + x[0]])


def scalar(x):
    return (x ** 3).sum() + x[0] * x[1]


v = torch.tensor([1.0, 2.0], dtype=torch.float64)
print(torch.autograd.functional.jacobian(f, v))
print(torch.autograd.functional.hessian(scalar, v))
print(torch.autograd.functional.vjp(f, v, torch.tensor([1.0, -1.0], dtype=torch.float64)))
print(torch.autograd.functional.hvp(scalar, v, torch.tensor([1.0, 0.5], dtype=torch.float64)))
print(torch.autograd.functional.jvp(f, v, torch.tensor([1.0, 0.0], dtype=torch.float64)))

# hooks and retain_grad
a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
b = a * 2
b.retain_grad()
seen = []
h = b.register_hook(lambda g: seen.append(g.clone()) or g * 10)
c = (b ** 2).sum()
c.backward()
print(a.grad, b.grad, seen)
h.remove()
a.grad = None
(a * 2).pow(2).sum().backward()
print(a.grad, a.is_leaf, b.is_leaf, b.requires_grad, b.grad_fn.name())


class ClampWithMask(Function):
    @staticmethod
    def forward(ctx, input, low, high):
        mask = (input >= low) & (input <= high)
        ctx.save_for_backward(mask)
        ctx.mark_non_differentiable(mask)
        return input.clamp(low, high), mask

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output, grad_mask):
        mask, = ctx.saved_tensors
        grad_input = grad_output * mask if ctx.needs_input_grad[0] else None
        return grad_input, None, None


x = torch.tensor([-2.0, -0.5, 0.5, 2.0], dtype=torch.float64, requires_grad=True)
y, mask = ClampWithMask.apply(x, -1.0, 1.0)
print(y, mask, mask.requires_grad)
y.sum().backward()
print(x.grad)
print(torch.autograd.gradcheck(lambda t: ClampWithMask.apply(t, -1.0, 1.0)[0],
                               (torch.tensor([-0.3, 0.4, 1.7], dtype=torch.float64,
                                             requires_grad=True),)))


class Exp(Function):
    @staticmethod
    def forward(ctx, i):
        result = i.exp()
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, grad_output):
        result, = ctx.saved_tensors
        return grad_output * result


z = torch.tensor([0.5, 1.0], dtype=torch.float64, requires_grad=True)
out = Exp.apply(z)
g, = torch.autograd.grad(out.sum(), z, create_graph=True)
g2, = torch.autograd.grad(g.sum(), z)
print(out, g, g2, torch.autograd.gradgradcheck(Exp.apply, (z,)))
