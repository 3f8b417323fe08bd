"""A PyTorch model with libslide's LSH softmax head: EmbeddingBag over sparse features -> ReLU -> LSHSoftmax.

    pip install '.[torch]'
    python examples/torch_head.py                          # a generated data set (no download)
    python examples/torch_head.py train.txt test.txt 5     # Extreme Classification Repository files, 5 epochs

The backbone trains with torch optimizers (its embedding table, with sparse gradients, with
libslide.torch.LazyAdam: a lazy Adam in C on the rows each batch touched); the head trains itself inside
loss.backward() (its weights are not torch parameters). Prints P@1 on the test set after every epoch.
"""

import sys
import time

import numpy as np
import torch

import libslide as sl
from libslide.torch import LazyAdam, LSHSoftmax


class Model(torch.nn.Module):
    def __init__(self, n_features, n_labels, hidden=128):
        super().__init__()
        self.bag = torch.nn.EmbeddingBag(n_features, hidden, mode="sum", sparse=True)
        torch.nn.init.uniform_(self.bag.weight, -(6.0 / n_features) ** 0.5, (6.0 / n_features) ** 0.5)  # He, sparse input
        self.bias = torch.nn.Parameter(torch.zeros(hidden))
        self.head = LSHSoftmax(hidden, n_labels, sampling=sl.LSH(), optimizer=sl.Adam())

    def hidden(self, X):
        """ReLU(X @ E + b) for a scipy CSR batch X."""
        return torch.relu(self.bag(torch.from_numpy(X.indices.astype(np.int64)),
                                   torch.from_numpy(X.indptr[:-1].astype(np.int64)),
                                   per_sample_weights=torch.from_numpy(X.data.astype(np.float32))) + self.bias)

    def forward(self, X, Y):
        return self.head(self.hidden(X), Y)


def precision_at_1(model, X, Y, batch=4096):
    hits = 0
    with torch.no_grad():
        for s in range(0, X.shape[0], batch):
            _, ids = model.head.topk(model.hidden(X[s:s + batch]), k=1)
            top = ids[:, 0].numpy().copy()
            hits += int(np.asarray(Y[s:s + batch][np.arange(top.size), top]).ravel().sum())
    return hits / X.shape[0]


def main():
    if len(sys.argv) >= 3:
        X, Y = sl.load_xc(sys.argv[1])
        Xt, Yt = sl.load_xc(sys.argv[2])
        epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    else:
        X, Y, Xt, Yt = sl.datasets.make_extreme(n_train=20000, n_test=5000, seed=0)
        epochs = 3
    torch.manual_seed(0)
    model = Model(X.shape[1], Y.shape[1])
    # the head updates itself; the embedding table's sparse gradients go to LazyAdam, the bias to Adam
    backbone = [LazyAdam([model.bag.weight], lr=2e-3), torch.optim.Adam([model.bias], lr=2e-3)]
    rng = np.random.default_rng(0)
    for epoch in range(1, epochs + 1):
        model.train()
        t0, order = time.perf_counter(), rng.permutation(X.shape[0])
        for s in range(0, X.shape[0], 128):
            rows = order[s:s + 128]
            for opt in backbone:
                opt.zero_grad()
            loss = model(X[rows], Y[rows])
            loss.backward()          # fills the backbone's gradients and updates the head's touched rows
            for opt in backbone:
                opt.step()
        model.eval()
        print(f"epoch {epoch}: loss {loss.item():.3f}, {X.shape[0] / (time.perf_counter() - t0):,.0f} samples/s, "
              f"test P@1 {precision_at_1(model, Xt, Yt):.4f}", flush=True)


if __name__ == "__main__":
    main()
