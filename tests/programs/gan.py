"""A 1-D GAN: a generator and a discriminator MLP, BCEWithLogitsLoss against
torch.ones_like/zeros_like targets, the fake batch .detach()ed for the
discriminator's step, two Adam optimisers; then the same with BCELoss on a
sigmoid output and label smoothing by torch.full_like.
Run with the library named by argv[1] or FASTAD_PROGRAM_LIB (fastad or torch)."""
import os
import sys

if (sys.argv[1:] or [os.environ.get("FASTAD_PROGRAM_LIB", "fastad")])[0] == "torch":
    import torch
    import torch.nn as nn
    import torch.optim as optim
else:
    import fastad as torch
    import fastad.nn as nn
    import fastad.optim as optim

torch.manual_seed(111)
latent = 2


def real_batch(n):
    return torch.randn(n, 1) * 1.25 + 4.0


for logits in (True, False):
    G = nn.Sequential(nn.Linear(latent, 16), nn.LeakyReLU(0.2), nn.Linear(16, 16), nn.ReLU(),
                      nn.Linear(16, 1))
    D = nn.Sequential(nn.Linear(1, 16), nn.LeakyReLU(0.2), nn.Linear(16, 16), nn.LeakyReLU(0.2),
                      nn.Linear(16, 1), *([] if logits else [nn.Sigmoid()]))
    criterion = nn.BCEWithLogitsLoss() if logits else nn.BCELoss()
    opt_g = optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.999))
    opt_d = optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.999))
    for step in range(150):
        real = real_batch(32)
        z = torch.randn(32, latent)
        fake = G(z)
        d_real = D(real)
        d_fake = D(fake.detach())
        real_target = torch.ones_like(d_real) if logits else torch.full_like(d_real, 0.9)
        loss_d = criterion(d_real, real_target) + criterion(d_fake, torch.zeros_like(d_fake))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()

        d_fake = D(fake)
        loss_g = criterion(d_fake, torch.ones_like(d_fake))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        if step % 30 == 0:
            print(f"step {step}: loss_d {loss_d.item():.5f} loss_g {loss_g.item():.5f}")
    with torch.no_grad():
        samples = G(torch.randn(1000, latent))
    print(f"fake mean {samples.mean().item():.4f} std {samples.std().item():.4f}")
    print(G[0].weight.grad.norm(), D[-1 if logits else -2].bias.grad)
