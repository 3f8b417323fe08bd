"""The libslide side of bench/vs_torch.py: the benchmark network built with libslide's Python API and
trained batch by batch, with the same interface as the PyTorch trainers in _torch_models.py (step, topk,
scale_lr, extra, config, version)."""

from __future__ import annotations

import _common
from _data import DATASETS, HIDDEN


def snapshot_network(net):
    """Copies of every layer's weights and bias (--rollback), as Network.fit(rollback=True) keeps them;
    net._restore(snapshot) puts them back and rebuilds the tables."""
    return net._snapshot_all()


class LibslideTrainer:
    def __init__(self, X, Y, a, shared, storage="float32", defaults=False):
        import libslide as sl

        cfg = DATASETS[a.dataset]
        self.version = getattr(sl, "__version__", "?")
        if defaults:
            self._build(sl, X, Y, a, sl.LSH(), sl.Adam(), storage)
            self.config = {"lsh": repr(sl.LSH().resolved()), "lr": self.lr, "optimizer": repr(sl.Adam().resolved()),
                           "output_storage": storage, "library_defaults": True}
            return
        extra = dict(cfg["shared"] if shared else cfg["per_sample"])
        if a.random_fraction is not None:
            extra["random_fraction"] = a.random_fraction
        if a.rehash_touched is not None:
            extra["rehash_touched"] = bool(a.rehash_touched)
        if a.rebuild_growth is not None:
            extra["rebuild_growth"] = a.rebuild_growth
        tables, bucket, active = (extra.pop(key, default) for key, default in
                                  (("tables", 50), ("bucket_size", 128), ("active", cfg["active"])))
        lsh = _common.retrieval_lsh(cfg["hash"], k=6, tables=a.tables or tables, bucket_size=a.bucket_size or bucket,
                     active=a.active or active, batch_shared=shared, **extra)
        self._build(sl, X, Y, a, lsh, sl.Adam(lr=a.lr or cfg["lr"], weight_decay=a.weight_decay), storage)
        self.config = {"lsh": lsh.__dict__, "lr": self.lr, "optimizer": "libslide Adam (touched rows)",
                       "weight_decay": a.weight_decay, "output_storage": storage}

    def _build(self, sl, X, Y, a, lsh, adam, storage):
        self.net = sl.Network(input_dim=X.shape[1],
                              layers=[sl.Layer(HIDDEN), sl.Layer(Y.shape[1], activation="softmax", sampling=lsh,
                                                                 storage=storage)],
                              optimizer=adam, seed=a.seed, threads=a.threads)
        # C views built once (as Network.fit does) so train_batch does not re-marshal X and Y every batch
        # (~70 us per call on debdeps); the plain matrices if that private helper moves.
        try:
            from libslide._inputs import features, labels

            self.xv, self.yv = features(X, self.net.input_dim), labels(Y, X.shape[0], self.net.output_dim)
        except ImportError:
            self.xv, self.yv = X, Y
        self.lr = self.net.optimizer.lr

    def step(self, rows):
        return self.net.train_batch(self.xv, self.yv, rows=rows)["loss"]

    def scale_lr(self, factor):
        self.lr *= factor
        self.net.set_learning_rate(self.lr)

    def topk(self, Xe, k):
        return self.net.predict_topk(Xe, k=k)[0]

    def snapshot(self):
        return snapshot_network(self.net)

    def restore(self, snap):
        self.net._restore(snap)

    @staticmethod
    def arrays(snap):
        """A snapshot as the flat list of float32 arrays EpochAverage takes (--average), as fit does."""
        from libslide.network import _flat

        return _flat(snap)

    @staticmethod
    def from_arrays(flat):
        from libslide.network import _pairs

        return _pairs(flat)

    def extra(self):
        return {"mean_active_output": self.net.layers[-1].mean_active, "network_memory_mib":
                self.net.memory_bytes() / 2**20}
