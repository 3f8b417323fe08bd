"""libslide inside PyTorch: an LSH-sampled softmax head for any torch model (pure Python over the C ABI).

    import torch, libslide as sl
    from libslide.torch import LSHSoftmax

    head = LSHSoftmax(128, num_classes, sampling=sl.LSH(), optimizer=sl.Adam())
    loss = head(backbone(x), targets)     # targets: LongTensor (B,), list of label arrays, or CSR indicator
    loss.backward()                       # fills the backbone's gradients and updates the head's touched rows
    backbone_optimizer.step()

The head's weights are not torch parameters: they live in the C library, and `loss.backward()` applies the
head's own lazy optimizer (sl.Adam / sl.SGD) to the rows the batch touched, so no (classes x in_features)
gradient is ever formed. Do not pass them to a torch optimizer; change the head's learning rate with
:meth:`LSHSoftmax.set_learning_rate`.

One training step at a time: `head(h, targets)` with gradients enabled runs the forward and backward passes
of the sampled softmax (C: slide_network_train_begin) and keeps them until `backward()` takes the step
(slide_network_train_apply). A later forward before that backward drops the pending step (its backward
then raises). Under `torch.no_grad()` the loss is computed and nothing is updated.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

try:
    import torch
except ImportError as e:  # pragma: no cover - exercised only without torch
    raise ImportError("libslide.torch needs PyTorch: pip install 'libslide[torch]' (torch==2.13.0)") from e

from . import _inputs
from ._api import check, ffi, lib
from ._errors import InvalidArgumentError, UnsupportedError
from .network import LSH, Adam, Layer, Network, SGD, _batch_stats
from .torch_optim import LazyAdam

__all__ = ["LSHSoftmax", "LazyAdam"]


def _hidden_array(h, in_features: int, name: str = "h") -> np.ndarray:
    """A zero-copy float32 numpy view of a CPU (B, in_features) tensor (contiguous copy when needed)."""
    if not isinstance(h, torch.Tensor):
        raise InvalidArgumentError(f"{name} must be a torch.Tensor, got {type(h).__name__}")
    if h.device.type != "cpu":
        raise UnsupportedError(f"{name} is on {h.device}: libslide runs on the CPU; move it with {name}.cpu()")
    if h.dtype != torch.float32:
        raise InvalidArgumentError(f"{name} must be float32, got {h.dtype}")
    if h.dim() != 2 or h.shape[1] != in_features:
        raise InvalidArgumentError(f"{name} must have shape (batch, {in_features}), got {tuple(h.shape)}")
    if h.shape[0] == 0:
        raise InvalidArgumentError(f"{name} is an empty batch")
    return h.detach().contiguous().numpy()


def _target_labels(targets, batch: int, num_classes: int):
    """Targets as something _inputs.labels takes: 1-D int64 array, list of int arrays, or a CSR matrix."""
    if isinstance(targets, torch.Tensor):
        if targets.device.type != "cpu":
            raise UnsupportedError(f"targets are on {targets.device}: move them with targets.cpu()")
        if targets.dtype.is_floating_point or targets.dtype == torch.bool or targets.dim() != 1:
            raise InvalidArgumentError(f"targets must be a 1-D integer tensor (one class per row), got "
                                       f"{targets.dtype} of shape {tuple(targets.shape)}")
        targets = targets.numpy()
    elif isinstance(targets, (list, tuple)):
        rows = list(targets)
        for i, t in enumerate(rows):
            if isinstance(t, torch.Tensor):
                if t.dtype.is_floating_point or t.dtype == torch.bool:
                    raise InvalidArgumentError(f"targets[{i}] must hold integer class ids, got {t.dtype}")
                rows[i] = t.cpu().numpy()
        targets = rows
    view = _inputs.labels(targets, batch, num_classes, name="targets")
    if view.rows != batch:
        raise InvalidArgumentError(f"targets have {view.rows} rows but h has {batch}")
    return view


class _SampledSoftmaxStep(torch.autograd.Function):
    """Loss of one head step; backward returns dL/dh and applies the head's update."""

    @staticmethod
    def forward(ctx, h, head, targets):
        step = head._begin(h, targets, want_grad=True)
        ctx.head, ctx.step = head, step
        return torch.tensor(step["loss"], dtype=torch.float32)

    @staticmethod
    def backward(ctx, grad_loss):
        head, step = ctx.head, ctx.step
        if head._pending is not step:
            raise RuntimeError("this LSHSoftmax step was dropped by a later forward of the same head: call "
                               "backward() on each loss before the next forward")
        head._apply()
        return step["grad"] * grad_loss, None, None


class LSHSoftmax(torch.nn.Module):
    """A softmax over `num_classes` classes on top of a torch model's (B, in_features) output, trained by
    libslide's sampled softmax (labels plus the sampled negatives per batch, see :class:`libslide.LSH`).

    sampling: the output layer's :class:`libslide.LSH` (default ``LSH()``; ``LSH(active=1.0)`` computes
    every class); optimizer: :class:`libslide.Adam` / :class:`libslide.SGD` for the head's own weights;
    threads: libslide's threads (default ``torch.get_num_threads()``: the head and the backbone run one
    after the other, so both pools may use every core).

    process_group: a torch.distributed process group (gloo) to split the classes over: rank r of W holds
    classes [r * C // W, (r + 1) * C // W) with its own tables and optimizer state (see
    :mod:`libslide.torch_sharding`). Every rank calls forward with its own batch, in step. The active set
    is the union of the shards': an automatic or int ``active`` is the union's size (each shard computes
    1 / W of it), a fraction applies to each shard's classes, so W ranks train with as many negatives per
    batch as one.
    """

    def __init__(self, in_features: int, num_classes: int, sampling: LSH | None = None,
                 optimizer: Adam | SGD | None = None, seed: int = 0, threads: int | None = None,
                 process_group=None):
        super().__init__()
        in_features = _inputs.positive_int(in_features, "in_features")
        num_classes = _inputs.positive_int(num_classes, "num_classes")
        threads = torch.get_num_threads() if threads is None else threads
        self._shard = None
        units = num_classes
        if process_group is not None:
            from .torch_sharding import Shard, shard_sampling

            self._shard = Shard(process_group, num_classes)
            units = self._shard.size
            sampling = shard_sampling(sampling if sampling is not None else LSH(), num_classes, self._shard)
            seed = seed + 1_000_003 * self._shard.rank  # each shard its own draws and initial weights
        net = Network(input_dim=in_features,
                      layers=[Layer(units, activation="softmax", sampling=sampling if sampling is not None else LSH())],
                      optimizer=optimizer if optimizer is not None else Adam(), seed=seed, threads=threads)
        self._attach(net)

    def _attach(self, net: Network) -> None:
        if len(net.layers) != 1 or net.layers[0].activation != "softmax":
            raise InvalidArgumentError("an LSHSoftmax network has exactly one layer, a softmax over the input")
        self.net = net
        self._pending = None
        # fixed for the life of this network: read once, not through the C library on every step
        self._in_features, self._units = net.input_dim, net.output_dim

    @property
    def in_features(self) -> int:
        return self._in_features

    @property
    def num_classes(self) -> int:
        return self._shard.num_classes if self._shard is not None else self._units

    # ------------------------------------------------------------------ training steps
    def _drop_pending(self) -> None:
        if self._pending is not None:
            self._pending = None
            check(lib.slide_network_train_cancel(self.net._h))

    def _begin(self, h, targets, want_grad: bool) -> dict:
        self._drop_pending()
        if self._shard is not None:
            step = self._shard.begin(self, h, targets, want_grad)
            self._pending = step
            return step
        x = _hidden_array(h, self.in_features)
        batch = x.shape[0]
        xv = _inputs.features(x, self.in_features, name="h")
        yv = _target_labels(targets, batch, self.num_classes)
        grad = torch.empty((batch, self.in_features), dtype=torch.float32) if want_grad else None
        gbuf = ffi.from_buffer("float[]", grad.numpy()) if want_grad else ffi.NULL
        st = _batch_stats()
        check(lib.slide_network_train_begin(self.net._h, xv.c, yv.c, ffi.NULL, batch, st, gbuf,
                                            batch * self.in_features if want_grad else 0))
        # xv / yv / x hold the arrays the pending step reads again in apply.
        step = {"loss": st.loss, "active": st.active_output, "grad": grad, "keep": (x, xv, yv)}
        self._pending = step
        return step

    def _apply(self) -> None:
        self._pending = None
        check(lib.slide_network_train_apply(self.net._h))

    def forward(self, h, targets):
        """Mean cross-entropy of the batch on the sampled softmax (0-d tensor). With gradients enabled,
        ``backward()`` fills h's gradient and takes the head's optimizer step; under ``torch.no_grad()``
        nothing is updated."""
        if torch.is_grad_enabled():
            if isinstance(h, torch.Tensor) and not h.requires_grad:
                # fixed features (no backbone to train): backward must still reach the head's update
                h = h.detach().requires_grad_()
            return _SampledSoftmaxStep.apply(h, self, targets)
        step = self._begin(h, targets, want_grad=False)
        self._drop_pending()
        return torch.tensor(step["loss"], dtype=torch.float32)

    # ------------------------------------------------------------------ inference and parameters
    def topk(self, h, k: int = 5, mode: str = "exact"):
        """(scores, ids) of the k best classes per row, best first: float32 and int64 tensors (B, k).
        mode "exact" scores every class, "sampled" those the hash tables retrieve (ids -1 pad the tail)."""
        self._drop_pending()
        x = _hidden_array(h, self.in_features)
        if self._shard is not None:
            return self._shard.topk(self, x, k, mode)
        ids, scores = self.net.predict_topk(x, k=k, mode=mode)
        return torch.from_numpy(scores), torch.from_numpy(ids.astype(np.int64))

    @property
    def weight(self) -> torch.Tensor:
        """The (num_classes, in_features) weights: a zero-copy view of float32 storage (a copy for bfloat16)."""
        w = self.net.layers[0].weights
        return torch.from_numpy(w) if w.flags.writeable else torch.tensor(w)

    @property
    def bias(self) -> torch.Tensor:
        b = self.net.layers[0].bias
        return torch.from_numpy(b) if b.flags.writeable else torch.tensor(b)

    def set_learning_rate(self, lr: float) -> None:
        """The head's learning rate (its optimizer is not a torch optimizer, so torch schedulers do not reach it)."""
        self.net.set_learning_rate(lr)

    # ------------------------------------------------------------------ state
    def _model_bytes(self) -> bytes:
        self._drop_pending()
        fd, path = tempfile.mkstemp(suffix=".slide")
        os.close(fd)
        try:
            self.net.save(path)
            with open(path, "rb") as f:
                return f.read()
        finally:
            os.unlink(path)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + "slide_model"] = torch.frombuffer(bytearray(self._model_bytes()), dtype=torch.uint8)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        key = prefix + "slide_model"
        if key not in state_dict:
            missing_keys.append(key)
            return
        data = state_dict[key]
        if not isinstance(data, torch.Tensor) or data.dtype != torch.uint8 or data.dim() != 1:
            error_msgs.append(f"{key} must be a 1-D uint8 tensor (a libslide model file)")
            return
        fd, path = tempfile.mkstemp(suffix=".slide")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data.numpy().tobytes())
            net = Network.load(path, threads=self.net.threads)
        finally:
            os.unlink(path)
        if net.input_dim != self.in_features or net.output_dim != self.net.output_dim:
            error_msgs.append(f"{key} holds a {net.input_dim} -> {net.output_dim} head, this one is "
                              f"{self.in_features} -> {self.net.output_dim}"
                              + ("" if self._shard is None else f" (shard {self._shard.rank} of {self._shard.world})"))
            return
        self._drop_pending()
        self._attach(net)

    def save(self, path) -> None:
        """Writes the head as a libslide model file (sl.Network.load reads it; so does :meth:`load`). A
        sharded head writes a directory: one model file per rank and a manifest (every rank must call it)."""
        self._drop_pending()
        if self._shard is not None:
            from .torch_sharding import save_sharded

            save_sharded(self, path)
            return
        self.net.save(path)

    @classmethod
    def load(cls, path, threads: int | None = None, process_group=None, sampling: LSH | None = None,
             optimizer: Adam | SGD | None = None, seed: int = 0) -> "LSHSoftmax":
        """Reads a head written by :meth:`save`. A sharded checkpoint (a directory) loads into a process
        group of the same size exactly (each rank its own file: rows, optimizer state, tables, step); into
        another size, or without a group, its rows are re-split: weights and biases are kept, the tables
        are rebuilt, and the optimizer state restarts with `optimizer` (`sampling` configures the new
        shards; both default as in the constructor)."""
        import os

        threads = torch.get_num_threads() if threads is None else threads
        if not os.path.isdir(os.fspath(path)):
            net = Network.load(path, threads=threads)
            head = cls.__new__(cls)
            torch.nn.Module.__init__(head)
            head._shard = None
            head._attach(net)
            return head
        from .torch_sharding import load_rows, read_manifest

        m = read_manifest(path)
        head = cls(m["in_features"], m["num_classes"], sampling=sampling, optimizer=optimizer, seed=seed,
                   threads=threads, process_group=process_group)
        lo, hi = (head._shard.lo, head._shard.hi) if head._shard is not None else (0, m["num_classes"])
        if head._shard is not None and head._shard.world == m["world"]:
            head._attach(Network.load(os.path.join(os.fspath(path), m["shards"][head._shard.rank]["file"]),
                                      threads=threads))
            return head
        w, b = load_rows(path, m, lo, hi, m["in_features"])
        head.net.layers[0].weights = w
        head.net.layers[0].bias[...] = b
        head.net.rebuild_tables()
        return head

    def extra_repr(self) -> str:
        shard = "" if self._shard is None else (f", shard {self._shard.rank}/{self._shard.world}: classes "
                                                f"[{self._shard.lo}, {self._shard.hi})")
        return f"in_features={self.in_features}, num_classes={self.num_classes}{shard}"
