"""pytorch/examples' VAE on synthetic 8x8 "images": encode to (mu, logvar),
reparameterise with torch.exp(0.5*logvar) and torch.randn_like, decode through
a sigmoid, F.binary_cross_entropy(reduction='sum') plus the KL term, Adam, and
the test pass and the samples under torch.no_grad().
Run with the library named by argv[1] or FASTAD_PROGRAM_LIB (fastad or torch)."""
import os
import sys

if (sys.argv[1:] or [os.environ.get("FASTAD_PROGRAM_LIB", "fastad")])[0] == "torch":
    import torch
    import torch.utils.data
    from torch import nn, optim
    from torch.nn import functional as F
else:
    import fastad as torch
    import fastad.utils.data
    from fastad import nn, optim
    from fastad.nn import functional as F

torch.manual_seed(1)
D = 64
# "images": blurred random strokes, values in [0, 1]
base = torch.rand(256, D)
images = (base > 0.7).float() * 0.8 + 0.1 * torch.rand(256, D)
labels = torch.zeros(256, dtype=torch.long)
train_loader = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(images[:192], labels[:192]), batch_size=32, shuffle=True)
test_loader = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(images[192:], labels[192:]), batch_size=32, shuffle=False)


class VAE(nn.Module):
    def __init__(self):
        super(VAE, self).__init__()
        self.fc1 = nn.Linear(D, 40)
        self.fc21 = nn.Linear(40, 4)
        self.fc22 = nn.Linear(40, 4)
        self.fc3 = nn.Linear(4, 40)
        self.fc4 = nn.Linear(40, D)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, D))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


model = VAE()
optimizer = optim.Adam(model.parameters(), lr=1e-3)


def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, D), reduction='sum')
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def train(epoch):
    model.train()
    train_loss = 0
    for batch_idx, (data, _) in enumerate(train_loader):
        optimizer.zero_grad()
        recon_batch, mu, logvar = model(data)
        loss = loss_function(recon_batch, data, mu, logvar)
        loss.backward()
        train_loss += loss.item()
        optimizer.step()
        if batch_idx % 3 == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader), loss.item() / len(data)))
    print('====> Epoch: {} Average loss: {:.4f}'.format(
        epoch, train_loss / len(train_loader.dataset)))


def test(epoch):
    model.eval()
    test_loss = 0
    with torch.no_grad():
        for i, (data, _) in enumerate(test_loader):
            recon_batch, mu, logvar = model(data)
            test_loss += loss_function(recon_batch, data, mu, logvar).item()
            if i == 0:
                n = min(data.size(0), 8)
                comparison = torch.cat([data[:n], recon_batch.view(32, 1, 8, 8)[:n].view(n, -1)])
                print(comparison.shape, comparison[n:, :4])
    test_loss /= len(test_loader.dataset)
    print('====> Test set loss: {:.4f}'.format(test_loss))


for epoch in range(1, 6):
    train(epoch)
    test(epoch)
    with torch.no_grad():
        sample = torch.randn(64, 4)
        sample = model.decode(sample).cpu()
        print(sample.view(64, 1, 8, 8)[0, 0, 0], sample.mean().item())
