"""torchvision's ResNet (BasicBlock with BatchNorm2d, downsample Sequential,
out += identity, ReLU(inplace=True), AdaptiveAvgPool2d((1, 1)),
torch.flatten(x, 1), kaiming_normal_(mode='fan_out') and constant_ init by
self.modules()), trained on a custom Dataset returning dicts through
random_split with a seeded Generator, DataLoader(drop_last=True), a
WeightedRandomSampler, OneCycleLR and CosineAnnealingLR, forward hooks
capturing activations, and the printed state_dict and optimizer state.
Run with the library named by argv[1] or FASTAD_PROGRAM_LIB (fastad or torch)."""
import os
import sys

if (sys.argv[1:] or [os.environ.get("FASTAD_PROGRAM_LIB", "fastad")])[0] == "torch":
    import torch
    import torch.nn as nn
    from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler, random_split
else:
    import fastad as torch
    import fastad.nn as nn
    from fastad.utils.data import DataLoader, Dataset, WeightedRandomSampler, random_split


def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation,
                     groups=groups, bias=False, dilation=dilation)


def conv1x1(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, norm_layer=None):
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        out = self.relu(out)
        return out


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=3, zero_init_residual=True):
        super().__init__()
        self._norm_layer = nn.BatchNorm2d
        self.inplanes = 8
        self.conv1 = nn.Conv2d(1, self.inplanes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 8, layers[0])
        self.layer2 = self._make_layer(block, 16, layers[1], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(16 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, BasicBlock) and m.bn2.weight is not None:
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block, planes, blocks, stride=1):
        norm_layer = self._norm_layer
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                norm_layer(planes * block.expansion),
            )
        layers = []
        layers.append(block(self.inplanes, planes, stride, downsample, norm_layer))
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, norm_layer=norm_layer))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.relu(x)
        x = self.maxpool(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        x = self.fc(x)
        return x


class Shapes(Dataset):
    """Noisy 8x8 images of a horizontal bar, a vertical bar or a dot."""

    def __init__(self, n, generator):
        self.labels = torch.randint(0, 3, (n,), generator=generator)
        self.images = torch.rand(n, 1, 8, 8, generator=generator) * 0.3
        for i in range(n):
            k = int(self.labels[i])
            if k == 0:
                self.images[i, 0, 4, 1:7] += 0.7
            elif k == 1:
                self.images[i, 0, 1:7, 4] += 0.7
            else:
                self.images[i, 0, 3:5, 3:5] += 0.7

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, idx):
        return {"image": self.images[idx], "label": self.labels[idx], "index": idx}


torch.manual_seed(0)
g = torch.Generator().manual_seed(42)
full = Shapes(120, g)
train_set, val_set = random_split(full, [0.75, 0.25], generator=torch.Generator().manual_seed(1))
print(len(train_set), len(val_set), train_set.indices[:8])
counts = torch.bincount(full.labels[train_set.indices], minlength=3)
weights = (1.0 / counts.float())[full.labels[train_set.indices]]
sampler = WeightedRandomSampler(weights, num_samples=len(weights), replacement=True)
train_dl = DataLoader(train_set, batch_size=16, sampler=sampler, drop_last=True)
val_dl = DataLoader(val_set, batch_size=32)
batch = next(iter(train_dl))
print(batch["image"].shape, batch["label"], batch["index"])

model = ResNet(BasicBlock, [1, 1])
print(model.layer2)
print(sum(p.numel() for p in model.parameters() if p.requires_grad))
activations = {}


def hook(name):
    def fn(module, input, output):
        activations[name] = output.detach()
    return fn


model.layer1.register_forward_hook(hook("layer1"))
model.avgpool.register_forward_hook(hook("avgpool"))
criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4,
                            nesterov=True)
epochs = 3
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, epochs=epochs,
                                                steps_per_epoch=len(train_dl))
for epoch in range(epochs):
    model.train()
    for i, batch in enumerate(train_dl):
        out = model(batch["image"])
        loss = criterion(out, batch["label"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
    model.eval()
    correct, total = 0, 0
    with torch.no_grad():
        for batch in val_dl:
            pred = model(batch["image"]).argmax(dim=1)
            correct += (pred == batch["label"]).sum().item()
            total += batch["label"].size(0)
    print(f"epoch {epoch}: loss {loss.item():.4f} val acc {correct / total:.3f} "
          f"lr {scheduler.get_last_lr()[0]:.5f}")
print(activations["layer1"].shape, activations["avgpool"].flatten(1)[0])
print(model.bn1.running_mean, model.bn1.running_var, model.bn1.num_batches_tracked)
sd = model.state_dict()
print(list(sd.keys())[:8], len(sd))
print(optimizer.state_dict()["param_groups"][0]["lr"],
      sorted(optimizer.state_dict()["state"][0].keys()))
cos = torch.optim.lr_scheduler.CosineAnnealingLR(torch.optim.SGD([nn.Parameter(torch.zeros(1))],
                                                                 lr=0.1), T_max=10)
lrs = []
for _ in range(12):
    lrs.append(round(cos.get_last_lr()[0], 6))
    cos.optimizer.step()
    cos.step()
print(lrs)
