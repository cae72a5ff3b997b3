"""W8: the training steps of the first models people build (issue 16), each
written once against the PyTorch API as a function of the module T: setup
returns (model, optimiser, inputs, targets, forward); step is one SGD step."""

# workload -> what it is (the sizes the issue names)
W8 = {
    "W8a": "CNN step: 2 conv 3x3 (32 ch), 28x28, batch 64",
    "W8b": "LSTM step: hidden 128, seq 32, batch 32",
    "W8c": "makemore MLP step: emb 27x10, block 3, hidden 200, BatchNorm, batch 32",
    "W8d": "transformer encoder step: d_model 64, 4 heads, seq 32, batch 16",
}


def _cnn(T):
    nn = T.nn
    model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
                          nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(32 * 14 * 14, 10))
    return model, T.randn(64, 1, 28, 28), T.randint(0, 10, (64,)), model


def _lstm(T):
    nn = T.nn
    lstm, head = nn.LSTM(64, 128, batch_first=True), nn.Linear(128, 10)

    def forward(x):
        return head(lstm(x)[0][:, -1])
    return nn.ModuleList([lstm, head]), T.randn(32, 32, 64), T.randint(0, 10, (32,)), forward


def _makemore(T):
    nn = T.nn
    model = nn.Sequential(nn.Embedding(27, 10), nn.Flatten(), nn.Linear(30, 200, bias=False),
                          nn.BatchNorm1d(200), nn.Tanh(), nn.Linear(200, 27))
    return model, T.randint(0, 27, (32, 3)), T.randint(0, 27, (32,)), model


def _transformer(T):
    nn = T.nn
    layer = nn.TransformerEncoderLayer(64, 4, dim_feedforward=256, dropout=0.1, batch_first=True)
    head = nn.Linear(64, 10)

    def forward(x):
        return head(layer(x).mean(1))
    return nn.ModuleList([layer, head]), T.randn(16, 32, 64), T.randint(0, 10, (16,)), forward


_BUILD = {"W8a": _cnn, "W8b": _lstm, "W8c": _makemore, "W8d": _transformer}


def w8_setup(T, which):
    T.manual_seed(0)
    model, x, y, forward = _BUILD[which](T)
    model.train()
    opt = T.optim.SGD(model.parameters(), lr=0.01)
    return opt, x, y, forward


def w8_step(T, state):
    opt, x, y, forward = state
    opt.zero_grad()
    T.nn.functional.cross_entropy(forward(x), y).backward()
    opt.step()
