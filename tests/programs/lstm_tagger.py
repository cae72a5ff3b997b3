"""pytorch.org "Sequence Models and LSTM Networks": nn.LSTM stepped one input at a
time and over a whole sequence, the LSTM part-of-speech tagger (nn.Embedding,
F.log_softmax, nn.NLLLoss, optim.SGD); then a GRU and an RNN tagger over a
padded batch with batch_first=True and pack_padded_sequence.
Run with the library named by argv[1] or FASTAD_PROGRAM_LIB (fastad or torch)."""
import os
import sys

if (sys.argv[1:] or [os.environ.get("FASTAD_PROGRAM_LIB", "fastad")])[0] == "torch":
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence
else:
    import fastad as torch
    import fastad.nn as nn
    import fastad.nn.functional as F
    import fastad.optim as optim
    from fastad.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

torch.manual_seed(1)

lstm = nn.LSTM(3, 3)
inputs = [torch.randn(1, 3) for _ in range(5)]
hidden = (torch.randn(1, 1, 3), torch.randn(1, 1, 3))
for i in inputs:
    out, hidden = lstm(i.view(1, 1, -1), hidden)
inputs = torch.cat(inputs).view(len(inputs), 1, -1)
hidden = (torch.randn(1, 1, 3), torch.randn(1, 1, 3))
out, hidden = lstm(inputs, hidden)
print(out)
print(hidden)


def prepare_sequence(seq, to_ix):
    idxs = [to_ix[w] for w in seq]
    return torch.tensor(idxs, dtype=torch.long)


training_data = [
    ("The dog ate the apple".split(), ["DET", "NN", "V", "DET", "NN"]),
    ("Everybody read that book".split(), ["NN", "V", "DET", "NN"])
]
word_to_ix = {}
for sent, tags in training_data:
    for word in sent:
        if word not in word_to_ix:
            word_to_ix[word] = len(word_to_ix)
print(word_to_ix)
tag_to_ix = {"DET": 0, "NN": 1, "V": 2}

EMBEDDING_DIM = 6
HIDDEN_DIM = 6


class LSTMTagger(nn.Module):

    def __init__(self, embedding_dim, hidden_dim, vocab_size, tagset_size):
        super(LSTMTagger, self).__init__()
        self.hidden_dim = hidden_dim
        self.word_embeddings = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim)
        self.hidden2tag = nn.Linear(hidden_dim, tagset_size)

    def forward(self, sentence):
        embeds = self.word_embeddings(sentence)
        lstm_out, _ = self.lstm(embeds.view(len(sentence), 1, -1))
        tag_space = self.hidden2tag(lstm_out.view(len(sentence), -1))
        tag_scores = F.log_softmax(tag_space, dim=1)
        return tag_scores


model = LSTMTagger(EMBEDDING_DIM, HIDDEN_DIM, len(word_to_ix), len(tag_to_ix))
loss_function = nn.NLLLoss()
optimizer = optim.SGD(model.parameters(), lr=0.1)
with torch.no_grad():
    inputs = prepare_sequence(training_data[0][0], word_to_ix)
    tag_scores = model(inputs)
    print(tag_scores)
for epoch in range(150):
    for sentence, tags in training_data:
        model.zero_grad()
        sentence_in = prepare_sequence(sentence, word_to_ix)
        targets = prepare_sequence(tags, tag_to_ix)
        tag_scores = model(sentence_in)
        loss = loss_function(tag_scores, targets)
        loss.backward()
        optimizer.step()
    if epoch % 50 == 0:
        print(epoch, loss.item())
with torch.no_grad():
    inputs = prepare_sequence(training_data[0][0], word_to_ix)
    tag_scores = model(inputs)
    print(tag_scores)
    print(tag_scores.argmax(dim=1))


class BatchTagger(nn.Module):
    def __init__(self, cell, vocab_size, tagset_size):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, EMBEDDING_DIM, padding_idx=0)
        self.rnn = cell(EMBEDDING_DIM, HIDDEN_DIM, num_layers=2, batch_first=True,
                        bidirectional=True)
        self.fc = nn.Linear(2 * HIDDEN_DIM, tagset_size)

    def forward(self, padded, lengths):
        packed = pack_padded_sequence(self.embedding(padded), lengths, batch_first=True,
                                      enforce_sorted=False)
        out, h = self.rnn(packed)
        out, out_lengths = pad_packed_sequence(out, batch_first=True)
        return self.fc(out), out_lengths


sentences = [prepare_sequence(s, word_to_ix) + 1 for s, _ in training_data]
targets = [prepare_sequence(t, tag_to_ix) for _, t in training_data]
padded = pad_sequence(sentences, batch_first=True)
tpadded = pad_sequence(targets, batch_first=True, padding_value=-100)
lengths = torch.tensor([len(s) for s in sentences])
print(padded, tpadded, lengths)
for cell in (nn.GRU, nn.RNN):
    torch.manual_seed(2)
    model = BatchTagger(cell, len(word_to_ix) + 1, len(tag_to_ix))
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    criterion = nn.CrossEntropyLoss(ignore_index=-100)
    for epoch in range(60):
        optimizer.zero_grad()
        scores, out_lengths = model(padded, lengths)
        loss = criterion(scores.reshape(-1, len(tag_to_ix)), tpadded.reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
        if epoch % 20 == 0:
            print(cell.__name__, epoch, round(loss.item(), 6))
    print(out_lengths, scores.argmax(-1))
