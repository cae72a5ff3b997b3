"""Data-parallel training of an MLP over MPI: every rank trains on its shard of
each batch, DistributedDataParallel averages the gradients, so all ranks hold
the same parameters (those one process would get on the whole batch).

    mpiexec -n 2 python examples/ddp_mlp.py        (pip install "fastad[mpi]")

Without mpi4py or mpiexec it runs as a world of one process.
"""
import importlib
import os

torch = importlib.import_module(os.environ.get("FASTAD_EXAMPLE_LIB", "fastad"))
nn = torch.nn
F = torch.nn.functional
dist = torch.distributed
data = torch.utils.data

if dist.is_available():
    dist.init_process_group(backend="mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
else:
    rank, world = 0, 1

# a teacher network labels 2,048 random points in 10 dimensions with 4 classes
torch.manual_seed(0)
X = torch.randn(2048, 10)
teacher = nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 4))
with torch.no_grad():
    Y = teacher(X).argmax(1)
dataset = data.TensorDataset(X, Y)
sampler = data.DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=0)
loader = data.DataLoader(dataset, batch_size=128 // world, sampler=sampler, drop_last=True)

torch.manual_seed(1 + rank)   # different on every rank: DDP broadcasts rank 0's parameters
model = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 4))
if dist.is_available():
    model = nn.parallel.DistributedDataParallel(model)
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

for epoch in range(8):
    sampler.set_epoch(epoch)   # a new shuffle every epoch, the same on every rank
    for xb, yb in loader:
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        accuracy = (model(X).argmax(1) == Y).float().mean().item()
    if rank == 0:
        print(f"epoch {epoch}: loss {loss.item():.4f}  accuracy {accuracy:.3f}  (world size {world})")

if dist.is_available():
    dist.destroy_process_group()
