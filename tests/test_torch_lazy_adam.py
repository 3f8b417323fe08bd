"""libslide.torch.LazyAdam: the lazy AdamW for sparse=True embedding tables, in C (slide_adam_rows)."""

import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import libslide as sl  # noqa: E402
from libslide.torch import LazyAdam  # noqa: E402


def _bag(seed=0, n=60, dim=8):
    torch.manual_seed(seed)
    return torch.nn.EmbeddingBag(n, dim, mode="sum", sparse=True)


def _batch(rng, n=60, touched=40):
    idx = torch.from_numpy(rng.integers(0, touched, 50))  # rows >= touched never appear; repeats do
    off = torch.tensor([0, 12, 30, 41])
    return idx, off, torch.from_numpy(rng.random(50).astype(np.float32))


def _steps(bag, opt, steps=6, seed=1):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        idx, off, psw = _batch(rng)
        opt.zero_grad()
        (bag(idx, off, per_sample_weights=psw) ** 2).sum().backward()
        opt.step()


def test_touching_every_row_equals_torch_adamw():
    """When every row has a gradient at every step, lazy and dense AdamW are the same optimizer."""
    torch.manual_seed(0)
    lazy, dense = _bag(), _bag()
    dense.sparse = False
    opt_l = LazyAdam(lazy.parameters(), lr=1e-2, weight_decay=0.3)
    opt_d = torch.optim.AdamW(dense.parameters(), lr=1e-2, weight_decay=0.3)
    rng = np.random.default_rng(0)
    for _ in range(8):
        idx = torch.from_numpy(np.concatenate([np.arange(60), rng.integers(0, 60, 30)]))  # all rows, some twice
        off = torch.tensor([0, 40, 70])
        for bag, opt in ((lazy, opt_l), (dense, opt_d)):
            opt.zero_grad()
            (bag(idx, off) ** 2).sum().backward()
            opt.step()
    moved = (lazy.weight - _bag().weight).abs().max().item()
    assert moved > 0.05
    torch.testing.assert_close(lazy.weight, dense.weight, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(opt_l.state[lazy.weight]["exp_avg_sq"], opt_d.state[dense.weight]["exp_avg_sq"],
                               rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("catch_up", [False, True])
def test_untouched_rows_and_their_moments_stay(catch_up):
    """Rows without a gradient do not move (with catch_up, not until their next gradient)."""
    bag = _bag()
    w0 = bag.weight.detach().clone()
    opt = LazyAdam(bag.parameters(), lr=1e-2, catch_up=catch_up)
    _steps(bag, opt)
    assert (bag.weight[:40] - w0[:40]).abs().max() > 1e-2
    assert torch.equal(bag.weight[40:], w0[40:])
    state = opt.state[bag.weight]
    assert state["step"] == 6 and not state["exp_avg"][40:].any() and not state["exp_avg_sq"][40:].any()


def test_catch_up_follows_dense_adamw():
    """Rows with gradients at some steps only: with catch_up the lazy weights end (after a step that touches
    every row) near dense AdamW's, which moves every row every step; without it, far from them."""
    def run(make_opt, sparse):
        torch.manual_seed(0)
        bag = torch.nn.EmbeddingBag(60, 8, mode="sum", sparse=sparse)
        opt = make_opt(bag.parameters())
        rng = np.random.default_rng(0)
        for step in range(30):
            some = rng.choice(60, 12, replace=False)
            idx = torch.from_numpy(np.arange(60) if step in (0, 29) else some)
            opt.zero_grad()
            (bag(idx, torch.tensor([0])) - 1.0).pow(2).sum().backward()
            opt.step()
        return bag.weight.detach()

    dense = run(lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1), False)
    caught = run(lambda p: LazyAdam(p, lr=1e-2, weight_decay=0.1), True)
    frozen = run(lambda p: LazyAdam(p, lr=1e-2, weight_decay=0.1, catch_up=False), True)
    err_caught, err_frozen = (caught - dense).abs().mean().item(), (frozen - dense).abs().mean().item()
    assert err_frozen > 1e-3
    assert err_caught < 0.2 * err_frozen, (err_caught, err_frozen)


def test_repeated_rows_are_summed_as_coalescing_would():
    """An uncoalesced gradient (repeated rows) gives what its coalesced form gives."""
    a, b = _bag(), _bag()
    opt_a, opt_b = LazyAdam(a.parameters(), lr=1e-2), LazyAdam(b.parameters(), lr=1e-2)
    rng = np.random.default_rng(3)
    for _ in range(4):
        idx, off, psw = _batch(rng)
        for bag, opt, coalesce in ((a, opt_a, False), (b, opt_b, True)):
            opt.zero_grad()
            (bag(idx, off, per_sample_weights=psw) ** 2).sum().backward()
            assert bag.weight.grad.is_coalesced() is False
            if coalesce:
                bag.weight.grad = bag.weight.grad.coalesce()
            opt.step()
    torch.testing.assert_close(a.weight, b.weight, rtol=1e-6, atol=1e-7)


def test_state_dict_round_trip_resumes_bit_for_bit():
    a = _bag()
    opt_a = LazyAdam(a.parameters(), lr=1e-2, weight_decay=0.1)
    _steps(a, opt_a, steps=3)
    buf = io.BytesIO()
    torch.save({"model": a.state_dict(), "opt": opt_a.state_dict()}, buf)
    buf.seek(0)
    saved = torch.load(buf)
    b = _bag(seed=5)
    b.load_state_dict(saved["model"])
    opt_b = LazyAdam(b.parameters(), lr=1.0)
    opt_b.load_state_dict(saved["opt"])
    _steps(a, opt_a, steps=3, seed=9)
    _steps(b, opt_b, steps=3, seed=9)
    assert torch.equal(a.weight, b.weight)


def test_an_embedding_bag_learns_with_it():
    """A sparse-input linear classifier (EmbeddingBag + LazyAdam) fits a separable toy problem."""
    rng = np.random.default_rng(0)
    n, feats, classes = 400, 200, 4
    owner = rng.integers(0, classes, feats)  # each feature votes for one class
    X = [rng.choice(feats, 6, replace=False) for _ in range(n)]
    y = torch.tensor([np.bincount(owner[x], minlength=classes).argmax() for x in X])
    idx = torch.from_numpy(np.concatenate(X))
    off = torch.arange(0, 6 * n, 6)
    torch.manual_seed(0)
    bag = torch.nn.EmbeddingBag(feats, classes, mode="sum", sparse=True)
    opt = LazyAdam(bag.parameters(), lr=0.05)
    for _ in range(60):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(bag(idx, off), y).backward()
        opt.step()
    assert (bag(idx, off).argmax(1) == y).float().mean() > 0.95


def test_bad_parameters_and_gradients_raise_typed_errors():
    dense = torch.nn.Linear(4, 3)
    opt = LazyAdam(dense.parameters())
    dense(torch.randn(2, 4)).sum().backward()
    with pytest.raises(sl.InvalidArgumentError, match="sparse gradients"):
        opt.step()
    with pytest.raises(sl.InvalidArgumentError, match="float32"):
        LazyAdam([torch.nn.Parameter(torch.zeros(3, 2, dtype=torch.float64))])
    with pytest.raises(sl.InvalidArgumentError, match="contiguous"):
        LazyAdam([torch.nn.Parameter(torch.zeros(3, 4).t())])
    for kw, msg in (({"lr": 0}, "lr"), ({"betas": (0.9, 1.0)}, "betas"), ({"eps": -1.0}, "eps"),
                    ({"weight_decay": -0.1}, "weight_decay"), ({"threads": 0}, "threads"),
                    ({"catch_up": 1}, "catch_up"), ({"betas": (0.9, 0.0)}, "catch_up")):
        with pytest.raises(sl.InvalidArgumentError, match=msg):
            LazyAdam(_bag().parameters(), **kw)
