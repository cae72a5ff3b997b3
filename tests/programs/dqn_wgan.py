"""Two update rules from well-known repositories: the DQN replay update of the
pytorch.org reinforcement-learning tutorial (a namedtuple Transition, a
deque ReplayMemory sampled with random.sample, gather(1, action), the target
net's max(1)[0] (and .max(1).values), a non-final mask, SmoothL1Loss,
clip_grad_value_, the soft target update through state_dict()), and the WGAN-GP
critic step (torch.rand alpha, interpolates.requires_grad_(True),
autograd.grad(create_graph=True, grad_outputs=torch.ones(...)), the penalty's
backward through the gradient).
Run with the library named by argv[1] or FASTAD_PROGRAM_LIB (fastad or torch)."""
import math
import os
import random
import sys
from collections import deque, namedtuple

if (sys.argv[1:] or [os.environ.get("FASTAD_PROGRAM_LIB", "fastad")])[0] == "torch":
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim
    from torch import autograd
else:
    import fastad as torch
    import fastad.nn as nn
    import fastad.nn.functional as F
    import fastad.optim as optim
    from fastad import autograd

torch.manual_seed(3)
random.seed(3)
device = torch.device("cpu")
Transition = namedtuple('Transition', ('state', 'action', 'next_state', 'reward'))


class ReplayMemory(object):
    def __init__(self, capacity):
        self.memory = deque([], maxlen=capacity)

    def push(self, *args):
        self.memory.append(Transition(*args))

    def sample(self, batch_size):
        return random.sample(self.memory, batch_size)

    def __len__(self):
        return len(self.memory)


class DQN(nn.Module):
    def __init__(self, n_observations, n_actions):
        super(DQN, self).__init__()
        self.layer1 = nn.Linear(n_observations, 32)
        self.layer2 = nn.Linear(32, 32)
        self.layer3 = nn.Linear(32, n_actions)

    def forward(self, x):
        x = F.relu(self.layer1(x))
        x = F.relu(self.layer2(x))
        return self.layer3(x)


BATCH_SIZE, GAMMA, EPS_START, EPS_END, EPS_DECAY, TAU, LR = 16, 0.99, 0.9, 0.05, 100, 0.005, 1e-3
n_actions, n_observations = 2, 4
policy_net = DQN(n_observations, n_actions).to(device)
target_net = DQN(n_observations, n_actions).to(device)
target_net.load_state_dict(policy_net.state_dict())
optimizer = optim.AdamW(policy_net.parameters(), lr=LR, amsgrad=True)
memory = ReplayMemory(1000)
steps_done = 0


def select_action(state):
    global steps_done
    sample = random.random()
    eps_threshold = EPS_END + (EPS_START - EPS_END) * math.exp(-1. * steps_done / EPS_DECAY)
    steps_done += 1
    if sample > eps_threshold:
        with torch.no_grad():
            return policy_net(state).max(1).indices.view(1, 1)
    else:
        return torch.tensor([[random.randrange(n_actions)]], device=device, dtype=torch.long)


def optimize_model():
    if len(memory) < BATCH_SIZE:
        return None
    transitions = memory.sample(BATCH_SIZE)
    batch = Transition(*zip(*transitions))
    non_final_mask = torch.tensor(tuple(map(lambda s: s is not None, batch.next_state)),
                                  device=device, dtype=torch.bool)
    non_final_next_states = torch.cat([s for s in batch.next_state if s is not None])
    state_batch = torch.cat(batch.state)
    action_batch = torch.cat(batch.action)
    reward_batch = torch.cat(batch.reward)
    state_action_values = policy_net(state_batch).gather(1, action_batch)
    next_state_values = torch.zeros(BATCH_SIZE, device=device)
    with torch.no_grad():
        next_state_values[non_final_mask] = target_net(non_final_next_states).max(1)[0]
    expected_state_action_values = (next_state_values * GAMMA) + reward_batch
    criterion = nn.SmoothL1Loss()
    loss = criterion(state_action_values, expected_state_action_values.unsqueeze(1))
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_value_(policy_net.parameters(), 100)
    optimizer.step()
    return loss.item()


# a toy environment: the state drifts, action 1 pushes it back; episodes end after 10 steps
for i_episode in range(6):
    state = torch.randn(4, dtype=torch.float32, device=device).unsqueeze(0)
    total = 0.0
    for t in range(10):
        action = select_action(state)
        drift = 0.3 if action.item() == 0 else -0.3
        observation = (state[0] + drift + 0.1 * torch.randn(4)).tolist()
        reward = 1.0 - abs(observation[0])
        total += reward
        reward = torch.tensor([reward], device=device)
        terminated = t == 9
        next_state = None if terminated else torch.tensor(
            observation, dtype=torch.float32, device=device).unsqueeze(0)
        memory.push(state, action, next_state, reward)
        state = next_state
        loss = optimize_model()
        target_net_state_dict = target_net.state_dict()
        policy_net_state_dict = policy_net.state_dict()
        for key in policy_net_state_dict:
            target_net_state_dict[key] = (policy_net_state_dict[key] * TAU
                                          + target_net_state_dict[key] * (1 - TAU))
        target_net.load_state_dict(target_net_state_dict)
        if terminated:
            break
    print(i_episode, round(total, 5), loss)
q = policy_net(torch.ones(3, 4))
print(q, q.max(1), q.max(1).values, q.argmax(dim=1, keepdim=True))

# WGAN-GP
LAMBDA = 10
netD = nn.Sequential(nn.Linear(2, 32), nn.ReLU(True), nn.Linear(32, 32), nn.ReLU(True),
                     nn.Linear(32, 1))
netG = nn.Sequential(nn.Linear(2, 32), nn.ReLU(True), nn.Linear(32, 2))
optimizerD = optim.Adam(netD.parameters(), lr=1e-3, betas=(0.5, 0.9))
optimizerG = optim.Adam(netG.parameters(), lr=1e-3, betas=(0.5, 0.9))
one = torch.tensor(1, dtype=torch.float)
mone = one * -1


def calc_gradient_penalty(netD, real_data, fake_data):
    alpha = torch.rand(real_data.size(0), 1)
    alpha = alpha.expand(real_data.size())
    interpolates = alpha * real_data + ((1 - alpha) * fake_data)
    interpolates = autograd.Variable(interpolates, requires_grad=True)
    disc_interpolates = netD(interpolates)
    gradients = autograd.grad(outputs=disc_interpolates, inputs=interpolates,
                              grad_outputs=torch.ones(disc_interpolates.size()),
                              create_graph=True, retain_graph=True, only_inputs=True)[0]
    gradient_penalty = ((gradients.norm(2, dim=1) - 1) ** 2).mean() * LAMBDA
    return gradient_penalty


for iteration in range(40):
    for p in netD.parameters():
        p.requires_grad = True
    for iter_d in range(3):
        real_data = torch.randn(32, 2) * 0.2 + torch.tensor([1.0, -1.0])
        netD.zero_grad()
        D_real = netD(real_data).mean()
        D_real.backward(mone)
        noise = torch.randn(32, 2)
        with torch.no_grad():
            fake = netG(noise)
        D_fake = netD(fake).mean()
        D_fake.backward(one)
        gradient_penalty = calc_gradient_penalty(netD, real_data, fake)
        gradient_penalty.backward()
        D_cost = D_fake - D_real + gradient_penalty
        Wasserstein_D = D_real - D_fake
        optimizerD.step()
    for p in netD.parameters():
        p.requires_grad = False
    netG.zero_grad()
    fake = netG(torch.randn(32, 2))
    G = netD(fake).mean()
    G.backward(mone)
    G_cost = -G
    optimizerG.step()
    if iteration % 10 == 0:
        print(iteration, D_cost.item(), G_cost.item(), Wasserstein_D.item(),
              gradient_penalty.item())
print(netG(torch.zeros(2, 2)))
