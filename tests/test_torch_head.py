"""libslide.torch.LSHSoftmax: gradients against torch's own softmax, exact resume, target forms, errors, and
training inside a torch model."""

import numpy as np
import pytest
import scipy.sparse as sp

torch = pytest.importorskip("torch")

import libslide as sl  # noqa: E402
from libslide.torch import LSHSoftmax  # noqa: E402


def _targets(kind, rows, C):
    if kind == "tensor":
        return torch.tensor([r[0] for r in rows])
    if kind == "list":
        return [torch.tensor(r) for r in rows]
    ind = np.concatenate(rows)
    ptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])])
    return sp.csr_matrix((np.ones(ind.size, np.float32), ind, ptr), shape=(len(rows), C))


@pytest.mark.parametrize("multi", [False, True])
def test_all_active_matches_torch_cross_entropy(multi):
    rng = np.random.default_rng(1)
    B, D, C = 24, 16, 300
    head = LSHSoftmax(D, C, sampling=sl.LSH(active=1.0), seed=3, threads=2)
    h = torch.randn(B, D, generator=torch.Generator().manual_seed(0), requires_grad=True)
    rows = [rng.choice(C, size=rng.integers(1, 5) if multi else 1, replace=False) for _ in range(B)]
    target = torch.zeros(B, C)
    for i, r in enumerate(rows):
        target[i, torch.from_numpy(r)] = 1.0 / len(r)
    W, b = head.weight.clone(), head.bias.clone()

    loss = head(h, [torch.from_numpy(r) for r in rows])
    loss.backward()

    h_ref = h.detach().clone().requires_grad_(True)
    ref = -(target * torch.log_softmax(h_ref @ W.T + b, dim=1)).sum(1).mean()
    ref.backward()
    assert loss.item() == pytest.approx(ref.item(), abs=1e-5)
    assert torch.allclose(h.grad, h_ref.grad, atol=1e-5, rtol=0)
    # backward applied the head's update: the labelled rows moved, and only rows of the batch's classes did
    moved = (head.weight - W).abs().sum(1) > 0
    assert moved[torch.from_numpy(np.unique(np.concatenate(rows)))].all()


def test_sampled_gradient_is_that_of_the_sampled_loss():
    """With sampling, dL/dh is still the exact gradient of the loss the head reports (finite differences)."""
    B, D, C = 8, 6, 5000
    head = LSHSoftmax(D, C, sampling=sl.LSH(active=64), optimizer=sl.Adam(lr=1e-3), seed=0, threads=1)
    h = torch.randn(B, D, dtype=torch.float32, generator=torch.Generator().manual_seed(2)) * 3
    y = torch.arange(B) * 7
    with torch.no_grad():
        base = head(h, y).item()
    hg = h.clone().requires_grad_(True)
    head(hg, y).backward()
    # the same step again under no_grad: same seed per step (the step counter did not move in no_grad runs)
    eps = 1e-2
    i, j = 3, 2
    head2 = LSHSoftmax(D, C, sampling=sl.LSH(active=64), optimizer=sl.Adam(lr=1e-3), seed=0, threads=1)
    hp = h.clone()
    hp[i, j] += eps
    hm = h.clone()
    hm[i, j] -= eps
    with torch.no_grad():
        fd = (head2(hp, y).item() - head2(hm, y).item()) / (2 * eps)
    assert head2(h, y).item() == pytest.approx(base, abs=1e-6)
    assert hg.grad[i, j].item() == pytest.approx(fd, rel=0.05, abs=1e-4)


def test_target_forms_agree():
    rng = np.random.default_rng(0)
    B, D, C = 10, 8, 400
    rows = [np.array([rng.integers(C)]) for _ in range(B)]
    h = torch.randn(B, D, generator=torch.Generator().manual_seed(5))
    results = []
    for kind in ("tensor", "list", "csr"):
        head = LSHSoftmax(D, C, seed=1, threads=1)
        hh = h.clone().requires_grad_(True)
        loss = head(hh, _targets(kind, rows, C))
        loss.backward()
        results.append((loss.item(), hh.grad.clone(), head.weight.clone()))
    for loss, grad, w in results[1:]:
        assert loss == results[0][0]
        assert torch.equal(grad, results[0][1])
        assert torch.equal(w, results[0][2])


def test_no_grad_updates_nothing():
    head = LSHSoftmax(8, 100, seed=0, threads=1)
    W = head.weight.clone()
    with torch.no_grad():
        loss = head(torch.randn(4, 8), torch.tensor([1, 2, 3, 4]))
    assert loss.dim() == 0 and loss.item() > 0
    assert torch.equal(head.weight, W)
    assert head.net.steps == 0


def test_state_dict_resumes_bit_for_bit():
    D, C = 12, 700
    gen = torch.Generator().manual_seed(7)
    batches = [(torch.randn(16, D, generator=gen), torch.randint(0, C, (16,), generator=gen)) for _ in range(6)]

    def step(head, h, y):
        head(h.clone().requires_grad_(True), y).backward()

    a = LSHSoftmax(D, C, seed=4, threads=1)
    for h, y in batches[:3]:
        step(a, h, y)
    state = a.state_dict()
    for h, y in batches[3:]:
        step(a, h, y)

    b = LSHSoftmax(D, C, seed=99, threads=1)
    b.load_state_dict(state)
    for h, y in batches[3:]:
        step(b, h, y)
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)


def test_save_load_and_topk(tmp_path):
    head = LSHSoftmax(8, 50, seed=0, threads=1)
    h = torch.randn(5, 8)
    scores, ids = head.topk(h, k=3)
    assert scores.shape == (5, 3) and ids.dtype == torch.int64
    logits = h @ head.weight.T + head.bias
    assert torch.equal(ids[:, 0], logits.argmax(1))
    head.save(tmp_path / "head.slide")
    again = LSHSoftmax.load(tmp_path / "head.slide", threads=1)
    assert torch.equal(again.weight, head.weight)
    assert sl.Network.load(tmp_path / "head.slide").output_dim == 50


def test_bad_inputs_raise_typed_errors():
    head = LSHSoftmax(8, 50, threads=1)
    y = torch.tensor([1, 2])
    with pytest.raises(sl.InvalidArgumentError, match="float32"):
        head(torch.randn(2, 8, dtype=torch.float64), y)
    with pytest.raises(sl.InvalidArgumentError, match=r"shape \(batch, 8\)"):
        head(torch.randn(2, 7), y)
    with pytest.raises(sl.UnsupportedError, match="CPU"):
        head(torch.empty(2, 8, device="meta"), y)
    with pytest.raises(sl.InvalidArgumentError, match="integer"):
        head(torch.randn(2, 8), torch.tensor([1.0, 2.0]))
    with pytest.raises(sl.InvalidArgumentError, match="rows"):
        head(torch.randn(3, 8), y)
    with pytest.raises(sl.SlideError, match="50"):
        head(torch.randn(2, 8), torch.tensor([1, 50]))


def test_backward_after_a_later_forward_raises():
    head = LSHSoftmax(8, 50, threads=1)
    h1 = torch.randn(2, 8, requires_grad=True)
    first = head(h1, torch.tensor([1, 2]))
    second = head(torch.randn(2, 8, requires_grad=True), torch.tensor([3, 4]))
    with pytest.raises(RuntimeError, match="dropped"):
        first.backward()
    second.backward()


def test_embedding_bag_backbone_learns_like_the_native_network():
    """EmbeddingBag -> ReLU -> LSHSoftmax against sl.Network's 128-ReLU hidden layer, same head settings."""
    X, Y, Xt, Yt = sl.datasets.make_extreme(n_train=6000, n_test=1500, n_features=3000, n_labels=800, seed=0)
    torch.manual_seed(0)
    H, epochs = 64, 4
    bag = torch.nn.EmbeddingBag(X.shape[1], H, mode="sum")
    bias = torch.nn.Parameter(torch.zeros(H))
    head = LSHSoftmax(H, Y.shape[1], seed=0, threads=2)
    opt = torch.optim.Adam(list(bag.parameters()) + [bias], lr=2e-3)

    def hidden(M, rows):
        sub = M[rows]
        return torch.relu(bag(torch.from_numpy(sub.indices.astype(np.int64)),
                              torch.from_numpy(sub.indptr[:-1].astype(np.int64)),
                              per_sample_weights=torch.from_numpy(sub.data.astype(np.float32))) + bias)

    rng = np.random.default_rng(0)
    for _ in range(epochs):
        order = rng.permutation(X.shape[0])
        for s in range(0, len(order), 128):
            rows = order[s:s + 128]
            opt.zero_grad()
            head(hidden(X, rows), Y[rows]).backward()
            opt.step()
    with torch.no_grad():
        _, ids = head.topk(hidden(Xt, np.arange(Xt.shape[0])), k=1)
    p1_head = float(np.mean([Yt[i, ids[i, 0].item()] > 0 for i in range(Xt.shape[0])]))

    net = sl.Network(X.shape[1], [sl.Layer(H), sl.Layer(Y.shape[1], "softmax", sampling=sl.LSH())], seed=0, threads=2)
    net.fit(X, Y, epochs=epochs, progress=False)
    p1_native = net.evaluate(Xt, Yt, ks=(1,))["P@1"]
    popular = np.asarray(Y.sum(0)).ravel().argmax()
    p1_popular = float(np.mean(np.asarray(Yt[:, popular].todense()).ravel() > 0))
    assert p1_head > p1_popular + 0.2, (p1_head, p1_popular)
    print(f"P@1 torch backbone + head {p1_head:.4f}, native {p1_native:.4f}, popular {p1_popular:.4f}")
    assert p1_head >= p1_native - 0.03, (p1_head, p1_native)
