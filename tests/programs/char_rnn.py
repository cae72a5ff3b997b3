"""pytorch.org "NLP From Scratch": classifying names with a character-level
RNN (one-hot letters built by item assignment, an nn.Module RNN cell stepped by
hand with torch.cat and nn.LogSoftmax, NLLLoss, manual SGD through
p.data.add_(p.grad.data, alpha=-lr), output.topk(1), a confusion matrix
normalised row by row), then generating names with an nn.GRU, topk sampling
and teacher forcing.
Run with the library named by argv[1] or FASTAD_PROGRAM_LIB (fastad or torch)."""
import os
import random
import string
import sys

if (sys.argv[1:] or [os.environ.get("FASTAD_PROGRAM_LIB", "fastad")])[0] == "torch":
    import torch
    import torch.nn as nn
else:
    import fastad as torch
    import fastad.nn as nn

torch.manual_seed(7)
random.seed(7)
all_letters = string.ascii_letters + " .,;'"
n_letters = len(all_letters)
category_lines = {
    "English": ["Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson"],
    "Italian": ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci"],
    "Japanese": ["Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto",
                 "Nakamura"],
}
all_categories = list(category_lines)
n_categories = len(all_categories)


def letterToIndex(letter):
    return all_letters.find(letter)


def letterToTensor(letter):
    tensor = torch.zeros(1, n_letters)
    tensor[0][letterToIndex(letter)] = 1
    return tensor


def lineToTensor(line):
    tensor = torch.zeros(len(line), 1, n_letters)
    for li, letter in enumerate(line):
        tensor[li][0][letterToIndex(letter)] = 1
    return tensor


print(letterToTensor('J'))
print(lineToTensor('Jones').size())


class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super(RNN, self).__init__()
        self.hidden_size = hidden_size
        self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
        self.i2o = nn.Linear(input_size + hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, input, hidden):
        combined = torch.cat((input, hidden), 1)
        hidden = self.i2h(combined)
        output = self.i2o(combined)
        output = self.softmax(output)
        return output, hidden

    def initHidden(self):
        return torch.zeros(1, self.hidden_size)


n_hidden = 32
rnn = RNN(n_letters, n_hidden, n_categories)
input = lineToTensor('Albert')
hidden = torch.zeros(1, n_hidden)
output, next_hidden = rnn(input[0], hidden)
print(output)


def categoryFromOutput(output):
    top_n, top_i = output.topk(1)
    category_i = top_i[0].item()
    return all_categories[category_i], category_i


print(categoryFromOutput(output))


def randomChoice(l):  # noqa: E741
    return l[random.randint(0, len(l) - 1)]


def randomTrainingExample():
    category = randomChoice(all_categories)
    line = randomChoice(category_lines[category])
    category_tensor = torch.tensor([all_categories.index(category)], dtype=torch.long)
    line_tensor = lineToTensor(line)
    return category, line, category_tensor, line_tensor


criterion = nn.NLLLoss()
learning_rate = 0.005


def train(category_tensor, line_tensor):
    hidden = rnn.initHidden()
    rnn.zero_grad()
    for i in range(line_tensor.size()[0]):
        output, hidden = rnn(line_tensor[i], hidden)
    loss = criterion(output, category_tensor)
    loss.backward()
    for p in rnn.parameters():
        p.data.add_(p.grad.data, alpha=-learning_rate)
    return output, loss.item()


current_loss = 0
all_losses = []
for iter in range(1, 601):
    category, line, category_tensor, line_tensor = randomTrainingExample()
    output, loss = train(category_tensor, line_tensor)
    current_loss += loss
    if iter % 150 == 0:
        guess, guess_i = categoryFromOutput(output)
        correct = '✓' if guess == category else '✗ (%s)' % category
        print('%d %d%% %.4f %s / %s %s' % (iter, iter / 6, loss, line, guess, correct))
        all_losses.append(current_loss / 150)
        current_loss = 0
print(all_losses)

confusion = torch.zeros(n_categories, n_categories)


def evaluate(line_tensor):
    hidden = rnn.initHidden()
    for i in range(line_tensor.size()[0]):
        output, hidden = rnn(line_tensor[i], hidden)
    return output


for i in range(60):
    category, line, category_tensor, line_tensor = randomTrainingExample()
    output = evaluate(line_tensor)
    guess, guess_i = categoryFromOutput(output)
    category_i = all_categories.index(category)
    confusion[category_i][guess_i] += 1
for i in range(n_categories):
    confusion[i] = confusion[i] / confusion[i].sum()
print(confusion)


def predict(input_line, n_predictions=2):
    print('\n> %s' % input_line)
    with torch.no_grad():
        output = evaluate(lineToTensor(input_line))
        topv, topi = output.topk(n_predictions, 1, True)
        for i in range(n_predictions):
            value = topv[0][i].item()
            category_index = topi[0][i].item()
            print('(%.2f) %s' % (value, all_categories[category_index]))


predict('Dovesky')
predict('Satoshi')


# generation with a GRU, teacher forcing
class Generator(nn.Module):
    def __init__(self, hidden_size):
        super().__init__()
        self.embed = nn.Embedding(n_letters + 1, 16)
        self.gru = nn.GRU(16 + n_categories, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, n_letters + 1)
        self.dropout = nn.Dropout(0.1)

    def forward(self, category, input, hidden=None):
        emb = self.embed(input)
        cat = category.unsqueeze(1).expand(-1, input.size(1), -1)
        output, hidden = self.gru(torch.cat((emb, cat), 2), hidden)
        return self.out(self.dropout(output)), hidden


EOS = n_letters
gen = Generator(32)
opt = torch.optim.Adam(gen.parameters(), lr=0.01)
loss_fn = nn.CrossEntropyLoss()
for step in range(150):
    category, line, category_tensor, _ = randomTrainingExample()
    onehot = nn.functional.one_hot(category_tensor, n_categories).float()
    idx = torch.tensor([[letterToIndex(c) for c in line]])
    target = torch.cat([idx[:, 1:], torch.tensor([[EOS]])], 1)
    if random.random() < 0.5:
        logits, _ = gen(onehot, idx)
    else:
        hidden, inp, logits = None, idx[:, :1], []
        for t in range(idx.size(1)):
            step_logits, hidden = gen(onehot, inp, hidden)
            logits.append(step_logits)
            inp = step_logits.argmax(-1).detach()
        logits = torch.cat(logits, 1)
    loss = loss_fn(logits.view(-1, n_letters + 1), target.view(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 50 == 0:
        print(step, loss.item())
gen.eval()
with torch.no_grad():
    for category in all_categories:
        onehot = torch.zeros(1, n_categories)
        onehot[0, all_categories.index(category)] = 1
        inp, hidden, name = torch.tensor([[letterToIndex(category[0])]]), None, category[0]
        for _ in range(8):
            logits, hidden = gen(onehot, inp, hidden)
            topv, topi = logits[0, -1].topk(1)
            if topi.item() == EOS:
                break
            name += all_letters[topi.item()]
            inp = topi.view(1, 1)
        print(category, name)
