"""pytorch/examples reinforcement_learning: REINFORCE and actor-critic on a toy
corridor environment: torch.from_numpy(state).float().unsqueeze(0),
distributions.Categorical(probs) with sample() and log_prob(), the returns
normalised by (returns - returns.mean()) / (returns.std() + eps) with numpy's
float32 eps, torch.cat(policy_loss).sum(), F.smooth_l1_loss of the critic,
torch.stack of the losses; then Normal and the entropy bonus of a Gaussian
policy.
Run with the library named by argv[1] or FASTAD_PROGRAM_LIB (fastad or torch)."""
import os
import sys
from collections import namedtuple

import numpy as np

if (sys.argv[1:] or [os.environ.get("FASTAD_PROGRAM_LIB", "fastad")])[0] == "torch":
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim
    from torch.distributions import Categorical, Normal
else:
    import fastad as torch
    import fastad.nn as nn
    import fastad.nn.functional as F
    import fastad.optim as optim
    from fastad.distributions import Categorical, Normal

gamma = 0.99
torch.manual_seed(543)
eps = np.finfo(np.float32).eps.item()


class Corridor:
    """Walk right to the goal at 5; each step costs a little."""

    def reset(self):
        self.pos = 0
        return self.state()

    def state(self):
        s = np.zeros(4, dtype=np.float64)
        s[0], s[1] = self.pos / 5.0, 1.0
        return s

    def step(self, action):
        self.pos = max(0, self.pos + (1 if action == 1 else -1))
        done = self.pos >= 5
        return self.state(), (1.0 if done else -0.1), done


class Policy(nn.Module):
    def __init__(self):
        super(Policy, self).__init__()
        self.affine1 = nn.Linear(4, 32)
        self.dropout = nn.Dropout(p=0.6)
        self.affine2 = nn.Linear(32, 2)
        self.saved_log_probs = []
        self.rewards = []

    def forward(self, x):
        x = self.affine1(x)
        x = self.dropout(x)
        x = F.relu(x)
        action_scores = self.affine2(x)
        return F.softmax(action_scores, dim=1)


policy = Policy()
optimizer = optim.Adam(policy.parameters(), lr=1e-2)


def select_action(state):
    state = torch.from_numpy(state).float().unsqueeze(0)
    probs = policy(state)
    m = Categorical(probs)
    action = m.sample()
    policy.saved_log_probs.append(m.log_prob(action))
    return action.item()


def finish_episode():
    R = 0
    policy_loss = []
    returns = []
    for r in policy.rewards[::-1]:
        R = r + gamma * R
        returns.insert(0, R)
    returns = torch.tensor(returns)
    returns = (returns - returns.mean()) / (returns.std() + eps)
    for log_prob, R in zip(policy.saved_log_probs, returns):
        policy_loss.append(-log_prob * R)
    optimizer.zero_grad()
    policy_loss = torch.cat(policy_loss).sum()
    policy_loss.backward()
    optimizer.step()
    del policy.rewards[:]
    del policy.saved_log_probs[:]
    return policy_loss.item()


env = Corridor()
running_reward = 10
for i_episode in range(1, 16):
    state, ep_reward = env.reset(), 0
    for t in range(1, 30):
        action = select_action(state)
        state, reward, done = env.step(action)
        policy.rewards.append(reward)
        ep_reward += reward
        if done:
            break
    running_reward = 0.05 * ep_reward + (1 - 0.05) * running_reward
    loss = finish_episode()
    if i_episode % 3 == 0:
        print('Episode {}\tLast reward: {:.2f}\tAverage reward: {:.2f}\tloss {:.5f}'.format(
            i_episode, ep_reward, running_reward, loss))

SavedAction = namedtuple('SavedAction', ['log_prob', 'value'])


class ActorCritic(nn.Module):
    def __init__(self):
        super(ActorCritic, self).__init__()
        self.affine1 = nn.Linear(4, 32)
        self.action_head = nn.Linear(32, 2)
        self.value_head = nn.Linear(32, 1)
        self.saved_actions = []
        self.rewards = []

    def forward(self, x):
        x = F.relu(self.affine1(x))
        action_prob = F.softmax(self.action_head(x), dim=-1)
        state_values = self.value_head(x)
        return action_prob, state_values


model = ActorCritic()
optimizer = optim.Adam(model.parameters(), lr=3e-2)


def select_action(state):  # noqa: F811
    state = torch.from_numpy(state).float()
    probs, state_value = model(state)
    m = Categorical(probs)
    action = m.sample()
    model.saved_actions.append(SavedAction(m.log_prob(action), state_value))
    return action.item()


def finish_episode():  # noqa: F811
    R = 0
    saved_actions = model.saved_actions
    policy_losses = []
    value_losses = []
    returns = []
    for r in model.rewards[::-1]:
        R = r + gamma * R
        returns.insert(0, R)
    returns = torch.tensor(returns)
    returns = (returns - returns.mean()) / (returns.std() + eps)
    for (log_prob, value), R in zip(saved_actions, returns):
        advantage = R - value.item()
        policy_losses.append(-log_prob * advantage)
        value_losses.append(F.smooth_l1_loss(value, torch.tensor([R])))
    optimizer.zero_grad()
    loss = torch.stack(policy_losses).sum() + torch.stack(value_losses).sum()
    loss.backward()
    optimizer.step()
    del model.rewards[:]
    del model.saved_actions[:]
    return loss.item()


for i_episode in range(1, 16):
    state, ep_reward = env.reset(), 0
    for t in range(1, 30):
        action = select_action(state)
        state, reward, done = env.step(action)
        model.rewards.append(reward)
        ep_reward += reward
        if done:
            break
    loss = finish_episode()
    if i_episode % 3 == 0:
        print(f'Episode {i_episode}\tLast reward: {ep_reward:.2f}\tloss {loss:.5f}')

# a Gaussian policy with an entropy bonus
mu_net = nn.Linear(4, 1)
log_std = nn.Parameter(torch.zeros(1))
opt = optim.SGD(list(mu_net.parameters()) + [log_std], lr=0.05)
for step in range(20):
    states = torch.rand(16, 4)
    dist = Normal(mu_net(states).squeeze(-1), log_std.exp())
    actions = dist.sample()
    rewards = -(actions - states[:, 0]) ** 2
    loss = -(dist.log_prob(actions) * (rewards - rewards.mean())).mean() \
        - 0.01 * dist.entropy().mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 5 == 0:
        print(step, round(loss.item(), 5), log_std.item(), dist.rsample().shape)
