"""bench/_torch_models.py's RowAdam, the lazy Adam of the PyTorch baselines: its fused path (torch's fused
AdamW kernel on the gathered rows) must be the same optimizer as its elementwise path, or the baselines'
accuracy would change with the speed-up."""

import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from _torch_models import RowAdam  # noqa: E402


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_fused_row_adam_matches_elementwise(weight_decay):
    if getattr(torch, "_fused_adamw_", None) is None:
        pytest.skip("this torch has no fused AdamW kernel")
    g = torch.Generator().manual_seed(0)
    w0 = torch.randn(50, 16, generator=g)
    fused = RowAdam(torch, w0.clone(), 1e-2, weight_decay=weight_decay, fused=True)
    plain = RowAdam(torch, w0.clone(), 1e-2, weight_decay=weight_decay, fused=False)
    assert fused.fused is not None and plain.fused is None
    rng = np.random.default_rng(0)
    for _ in range(20):
        rows = torch.from_numpy(np.sort(rng.choice(40, size=12, replace=False)))
        grad = torch.randn(12, 16, generator=g)
        fused.step(rows, grad)
        plain.step(rows, grad.clone())
    moved = (fused.w - w0).abs().max().item()
    assert moved > 1e-2  # it trained
    for a, b in ((fused.w, plain.w), (fused.m, plain.m), (fused.v, plain.v)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert torch.equal(fused.w[40:], w0[40:]) and not fused.m[40:].any()  # lazy: rows never selected stay


def test_torch_models_train_with_lazy_adam_tables():
    """bench/vs_torch.py --torch-optimizer lazyadam: the sampled softmax and the head's backbone train their
    sparse-gradient tables with libslide.torch.LazyAdam (rows never in a batch stay where they started)."""
    from types import SimpleNamespace

    import libslide as sl
    from _torch_models import TorchHeadTrainer, TorchTrainer

    X, Y, _, _ = sl.datasets.make_extreme(n_train=600, n_test=10, n_features=400, n_labels=300, seed=0)
    a = SimpleNamespace(threads=1, seed=0, lr=1e-2, dataset="debdeps", torch_optimizer="lazyadam", negatives=64,
                        weight_decay=0.0, head_active=32)
    used = np.unique(X[:256].indices)
    for trainer in (TorchTrainer(X, Y, a, sampled=True), TorchHeadTrainer(X, Y, a)):
        w0 = trainer.W1.detach().clone()
        losses = [trainer.step(np.arange(s, s + 128)) for s in (0, 128)]
        assert all(np.isfinite(losses))
        moved = (trainer.W1.detach() - w0).abs().sum(1).numpy()
        assert (moved[used] > 0).all()
        assert not moved[np.setdiff1d(np.arange(X.shape[1]), used)].any()
