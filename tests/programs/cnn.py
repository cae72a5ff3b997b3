"""pytorch.org "Quickstart" and "Training a Classifier", on random images: a
small CNN (Conv2d, MaxPool2d, ReLU, Flatten, Dropout, CrossEntropyLoss) fed by
DataLoader(TensorDataset(...), shuffle=True), SGD with momentum and StepLR,
accuracy by (pred.argmax(1) == y).type(torch.float).sum().item(), and the
state_dict saved and loaded back with torch.save/torch.load.
Run with the library named by argv[1] or FASTAD_PROGRAM_LIB (fastad or torch)."""
import os
import sys
import tempfile

if (sys.argv[1:] or [os.environ.get("FASTAD_PROGRAM_LIB", "fastad")])[0] == "torch":
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset
    import torch.nn.functional as F
else:
    import fastad as torch
    from fastad import nn
    from fastad.utils.data import DataLoader, TensorDataset
    import fastad.nn.functional as F

torch.manual_seed(0)
device = ("cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available()
          else "cpu")
print(f"Using {device} device")

# two classes of 12x12 images: a bright square in the top left or the bottom right corner
n = 192
y_all = torch.randint(0, 2, (n,))
X_all = torch.rand(n, 1, 12, 12) * 0.5
for i in range(n):
    if y_all[i] == 0:
        X_all[i, 0, :6, :6] += 0.5
    else:
        X_all[i, 0, 6:, 6:] += 0.5
train_data = TensorDataset(X_all[:160], y_all[:160])
test_data = TensorDataset(X_all[160:], y_all[160:])
print(len(train_data), len(test_data), train_data[0][0].shape, train_data[0][1])

batch_size = 32
train_dataloader = DataLoader(train_data, batch_size=batch_size, shuffle=True)
test_dataloader = DataLoader(test_data, batch_size=batch_size)
for X, y in test_dataloader:
    print(f"Shape of X [N, C, H, W]: {X.shape}")
    print(f"Shape of y: {y.shape} {y.dtype}")
    break


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(4, 8, 3)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(8 * 2 * 2, 16)
        self.dropout = nn.Dropout(0.25)
        self.fc2 = nn.Linear(16, 2)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = self.flatten(x)
        x = self.dropout(F.relu(self.fc1(x)))
        return self.fc2(x)


model = Net().to(device)
print(model)
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)


def train(dataloader, model, loss_fn, optimizer):
    size = len(dataloader.dataset)
    model.train()
    for batch, (X, y) in enumerate(dataloader):
        X, y = X.to(device), y.to(device)
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if batch % 2 == 0:
            loss, current = loss.item(), (batch + 1) * len(X)
            print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")


def test(dataloader, model, loss_fn):
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    model.eval()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            X, y = X.to(device), y.to(device)
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    test_loss /= num_batches
    correct /= size
    print(f"Test Error: \n Accuracy: {(100*correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")


epochs = 4
for t in range(epochs):
    print(f"Epoch {t+1}\n-------------------------------")
    train(train_dataloader, model, loss_fn, optimizer)
    test(test_dataloader, model, loss_fn)
    scheduler.step()
    print(scheduler.get_last_lr(), optimizer.param_groups[0]["lr"])
print("Done!")

path = os.path.join(tempfile.mkdtemp(), "model.pth")
torch.save(model.state_dict(), path)
print("Saved PyTorch Model State to model.pth")
model = Net().to(device)
model.load_state_dict(torch.load(path, weights_only=True))
print(sorted(model.state_dict().keys()))
torch.save({"epoch": epochs, "model_state_dict": model.state_dict(),
            "optimizer_state_dict": optimizer.state_dict(), "loss": 0.5}, path)
checkpoint = torch.load(path)
model.load_state_dict(checkpoint["model_state_dict"])
optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
print(checkpoint["epoch"], checkpoint["loss"])
model.eval()
classes = ["top left", "bottom right"]
x, y = test_data[0][0], test_data[0][1]
with torch.no_grad():
    x = x.to(device)
    pred = model(x.unsqueeze(0))
    predicted, actual = classes[pred[0].argmax(0)], classes[y]
    print(f'Predicted: "{predicted}", Actual: "{actual}"')
    outputs = model(X_all[160:])
    _, predicted = torch.max(outputs, 1)
    total = y_all[160:].size(0)
    correct = (predicted == y_all[160:]).sum().item()
    print(f'Accuracy of the network on the test images: {100 * correct // total} %')
