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
