"""LazyAdam: a torch optimizer for the big embedding tables of a model trained beside libslide.torch's head.

    emb = torch.nn.EmbeddingBag(num_features, 128, mode="sum", sparse=True)
    opt = libslide.torch.LazyAdam(emb.parameters(), lr=1e-3)
    ...
    loss.backward(); opt.step(); opt.zero_grad()

Each step updates only the rows present in each parameter's sparse gradient, in place, in C
(slide_adam_rows): one pass over each touched row and its moments, where torch.optim.SparseAdam coalesces
the gradient and gathers and scatters the rows several times. The rule is torch.optim.AdamW's on the
touched rows (eps added to the bias-corrected sqrt(v), decoupled weight decay). With catch_up=True (the
default, as libslide's own Adam) a row that had no gradient for k steps first gets, in closed form, what
AdamW would have done to it in those steps (its momentum keeps moving it, its moments decay), so training
follows dense AdamW at the cost of the touched rows; catch_up=False leaves untouched rows and their moments
as they are (the rule of torch.optim.SparseAdam).
"""

from __future__ import annotations

import torch

from ._api import check, ffi, lib
from ._errors import InvalidArgumentError, UnsupportedError

__all__ = ["LazyAdam"]


class LazyAdam(torch.optim.Optimizer):
    """Lazy Adam(W) for parameters with sparse gradients (``nn.Embedding`` / ``nn.EmbeddingBag`` with
    ``sparse=True``): float32, CPU, contiguous, at least 1-D; row i of the parameter is its i-th slice on
    dimension 0. Repeated rows in an uncoalesced gradient are summed first. catch_up: see the module's
    documentation (costs 8 bytes of state per row). threads: OpenMP threads of the update (default
    ``torch.get_num_threads()`` at each step). Dense gradients are refused: use torch.optim.Adam(W) for
    those parameters."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, catch_up: bool = True, threads: int | None = None):
        if not (isinstance(lr, (int, float)) and lr > 0):
            raise InvalidArgumentError(f"lr must be a number > 0, got {lr!r}")
        if not (len(betas) == 2 and all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas)):
            raise InvalidArgumentError(f"betas must be two numbers in [0, 1), got {betas!r}")
        if not (isinstance(eps, (int, float)) and eps > 0):
            raise InvalidArgumentError(f"eps must be a number > 0, got {eps!r}")
        if not (isinstance(weight_decay, (int, float)) and weight_decay >= 0 and lr * weight_decay < 1):
            raise InvalidArgumentError(f"weight_decay must be >= 0 with lr * weight_decay < 1, got {weight_decay!r}")
        if not isinstance(catch_up, bool):
            raise InvalidArgumentError(f"catch_up must be a bool, got {catch_up!r}")
        if catch_up and not betas[1] > 0:
            raise InvalidArgumentError("catch_up needs betas[1] > 0")
        if threads is not None and not (isinstance(threads, int) and 0 < threads <= 4096):
            raise InvalidArgumentError(f"threads must be an int in [1, 4096] or None, got {threads!r}")
        self.threads = threads
        super().__init__(params, dict(lr=float(lr), betas=(float(betas[0]), float(betas[1])), eps=float(eps),
                                      weight_decay=float(weight_decay), catch_up=catch_up))
        for group in self.param_groups:
            for p in group["params"]:
                _check_param(p)

    def load_state_dict(self, state_dict) -> None:
        # torch casts floating parameters' state tensors to the parameter's dtype on load: row_step
        # (int64 step numbers) is put back as it was saved.
        saved = {k: v["row_step"] for k, v in state_dict["state"].items() if "row_step" in v}
        super().load_state_dict(state_dict)
        ids = [i for g in state_dict["param_groups"] for i in g["params"]]
        params = [p for g in self.param_groups for p in g["params"]]
        for i, p in zip(ids, params):
            if i in saved:
                self.state[p]["row_step"] = saved[i].to(dtype=torch.int64, copy=True).contiguous()

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        cfg = ffi.new("slide_row_adam_config *")
        check(lib.slide_row_adam_config_init_v(cfg, ffi.sizeof("slide_row_adam_config")))
        cfg.threads = self.threads or torch.get_num_threads()
        for group in self.param_groups:
            cfg.lr, cfg.eps, cfg.weight_decay = group["lr"], group["eps"], group["weight_decay"]
            cfg.beta1, cfg.beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                _check_param(p)
                rows, values = _sparse_rows(p)
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.contiguous_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.contiguous_format)
                if group["catch_up"] and "row_step" not in state:
                    # step of each row's last update (0: never); int64 storage read as uint64_t by the C library
                    state["row_step"] = torch.zeros(p.shape[0], dtype=torch.int64)
                if group["catch_up"]:
                    rs = state["row_step"]
                    if rs.dtype != torch.int64 or rs.shape != (p.shape[0],) or not rs.is_contiguous():
                        raise InvalidArgumentError(f"LazyAdam state row_step must be a contiguous int64 tensor of "
                                                   f"{p.shape[0]} entries, got {rs.dtype} {tuple(rs.shape)}")
                state["step"] += 1
                cfg.step = state["step"]
                dim = p[0].numel() if p.shape[0] else 1
                row_step = (ffi.from_buffer("uint64_t[]", state["row_step"].numpy()) if group["catch_up"]
                            else ffi.NULL)
                check(lib.slide_adam_rows(_floats(p), _floats(state["exp_avg"]), _floats(state["exp_avg_sq"]),
                                          row_step, p.shape[0], dim, ffi.from_buffer("int64_t[]", rows.numpy()),
                                          rows.numel(), _floats(values), cfg))
        return loss


def _check_param(p) -> None:
    if p.device.type != "cpu":
        raise UnsupportedError(f"LazyAdam runs on the CPU; a parameter is on {p.device}")
    if p.dtype != torch.float32:
        raise InvalidArgumentError(f"LazyAdam updates float32 parameters, got {p.dtype}")
    if p.dim() < 1 or not p.is_contiguous():
        raise InvalidArgumentError(f"LazyAdam needs contiguous parameters with rows (dim >= 1), got shape "
                                   f"{tuple(p.shape)}" + ("" if p.is_contiguous() else ", not contiguous"))


def _sparse_rows(p):
    """(row ids int64, gradient rows float32 contiguous) of p's sparse gradient, uncoalesced as it is."""
    g = p.grad
    if not g.is_sparse:
        raise InvalidArgumentError(f"LazyAdam needs sparse gradients (nn.Embedding / nn.EmbeddingBag with sparse=True); "
                                   f"a parameter of shape {tuple(p.shape)} has a dense one: use torch.optim.Adam for it")
    if g.sparse_dim() != 1:
        raise InvalidArgumentError(f"LazyAdam needs gradients sparse in rows only, got sparse_dim {g.sparse_dim()}")
    rows = g._indices()[0].contiguous()
    values = g._values().to(torch.float32).contiguous()
    return rows, values


def _floats(t):
    return ffi.from_buffer("float[]", t.detach().numpy())
