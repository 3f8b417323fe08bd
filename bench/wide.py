"""Wide hidden layers, where sampling should pay: a width sweep of libslide with LSH-sampled hidden layers
against the same network computed densely by libslide and by PyTorch, on the same threads and the same
training-time budget, P@1 against training seconds (issue 17).

    apt-get install -y dataset-fashion-mnist          # once, as a setup step; nothing is downloaded here
    python bench/wide.py --threads 2 --minutes 10 --widths 1024 4096 8192
    python bench/wide.py --threads 2 --minutes 20 --widths 16384 --impls torch-dense slide-lsh --name wide_16k

Network: 784 pixels -> W ReLU -> W ReLU -> W ReLU -> 10 softmax for each W of --widths, batch 128, Adam
with one learning rate for every implementation (--lr, default 1e-3: the rate dense networks of this kind
train well with, see bench/paper2017.py's notes; --lr-torch gives torch-dense another). Weights start
uniform as libslide draws them (network.c, layer_init_params): +-sqrt(6 / fan_in) (He) for the ReLU layers,
+-1 / sqrt(fan_in) (torch.nn.Linear's own) for the output layer, biases zero; the random streams differ.
Implementations (--impls), run one after the other in one process for each width, in the order given:

  torch-dense  torch.nn.Sequential of Linear and ReLU, F.cross_entropy, torch.optim.Adam (fused=True when
               the build has it, else the default implementation), torch.set_num_threads(--threads).
  slide-dense  sl.Network with no layer sampled: every neuron computed.
  slide-lsh    sl.Network whose hidden layers are sl.Layer(W, sampling=sl.LSH(active=--fraction,
               hash="simhash")): SimHash retrieval with the automatic hidden-layer table settings (per
               sample, 200 tables, k from the layer size, rescoring; the resolved settings are in the
               JSON). The 10-way softmax output layer is computed in full.
  slide-exact  the same with LSH(active=--fraction, hash="exact"): each sample keeps its highest
               pre-activations, every one computed (for the whole batch at once), no tables. Since 0.5
               this is also what LSH(active=--fraction) alone does on a hidden layer.

Data: Fashion-MNIST (sl.datasets.load_fashion_mnist: pixels scaled to [0, 1], as bench/paper2017.py). Training
uses the first 50,000 training images (shuffled every epoch, the same order for every implementation),
validation the last 10,000 training images, test the 10,000 test images.

Protocol: each implementation trains for --minutes of training wall time (or --max-epochs, whichever ends
first). The clock runs only during training steps (gathering the batch included); it stops for evaluation.
After every --eval-every seconds of training, and at the end, P@1 (top-1 accuracy) is computed on all
validation and all test images with every neuron computed (libslide's exact mode; torch in chunks of
--eval-chunk images under inference_mode). Each curve point holds train_s, samples, epochs (samples / 50,000),
val_P@1, P@1 (test; the key vs_torch.py's curves use, so _data.selected and _data.time_to_target apply) and
eval_s. The model an implementation returns is the curve point with the best validation P@1 (the first of a
tie): its test P@1 is "selected P@1". The test set chooses nothing.

Criterion ("at a width of at least 8,192 units per hidden layer, 5% sampled training reaches within 1 point
of PyTorch dense's accuracy in <= 1/3 of its wall time, 2 threads, one run"), per width:
  target     torch-dense's selected P@1 minus 0.01;
  t_torch    the training seconds at which torch-dense reached its selected point;
  time to target
             the training seconds of an implementation's first curve point whose test P@1 is >= target (the
             test P@1 of the curve points, as vs_torch.py's "time to target"; resolution --eval-every); the
             ratio is that over t_torch, and slide-lsh (or slide-exact) meets the criterion when it is <= 1/3;
  P@1 by t_torch/3
             the check that lets only the validation set choose: the test P@1 of the best-validation point
             among those at or before t_torch / 3 seconds, i.e. what a run stopped at a third of torch's time
             returns (met when >= target).

Threads: sl.Network(threads=--threads), torch.set_num_threads(--threads), and OMP_NUM_THREADS=--threads set
before either library loads. In one process both libraries share one libgomp and so one OpenMP wait policy:
the one libslide sets when it is imported (OMP_WAIT_POLICY=PASSIVE, GOMP_SPINCOUNT=3000), unless the
environment sets OMP_WAIT_POLICY; the JSON records it. The threads idle between parallel regions then sleep
after a short spin, which costs torch little at these widths (each product of a batch takes milliseconds
or more) and is what libslide was measured best with (bench/omp_wait_policy.py).

Also measured: training samples/s; "CPUs used" (process CPU time over wall time during training steps: about
--threads when the cores are free, less when other processes take them); the 1-minute load average when each
run starts; peak resident memory of each run (VmHWM, reset before each run through /proc/self/clear_refs;
it includes the data and the torch runtime, loaded once; when the reset is refused, the process's peak so
far); the model's own bytes (libslide: Network.memory_bytes(); torch: parameters, gradients and both Adam
moments); for slide-lsh and slide-exact, the mean active neurons per hidden layer during training.

Cost: a dense 3 x 8,192 network is ~141 M multiply-adds per image, so one evaluation (20,000 images, not
counted in the budget) takes as long as a few thousand training samples of torch-dense, and evaluation
can take more wall time than training with the default --eval-every at that width. Memory at W = 16,384:
~550 M parameters, ~8.8 GB for torch-dense with gradients and Adam moments; each run's model is freed
before the next.

Writes bench/results/<--name>.json (every run with its curve, and the criterion columns of each width), .md
(the tables, the command and the machine) and .png (test P@1 against training seconds, one panel per
width; star: the selected point; dotted: the target; dashed: t_torch / 3), rewritten after every width.
"""

import argparse
import gc
import math
import os
import time
from pathlib import Path

import numpy as np

import _common
from _data import selected, time_to_target

INPUT = 784
CLASSES = 10
N_HIDDEN = 3
N_TRAIN = 50000
IMPLS = ["torch-dense", "slide-dense", "slide-lsh", "slide-exact"]
SAMPLED = ("slide-lsh", "slide-exact")  # the implementations the criterion is checked for
COLORS = {"torch-dense": "C3", "slide-dense": "C0", "slide-lsh": "C2", "slide-exact": "C1"}
SLACK = 0.01  # "within 1 point"
SHARE = 1 / 3  # "in <= 1/3 of its wall time"
CRITERION_WIDTH = 8192


def init_limit(fan_in, relu):
    """Half-width of the uniform initialisation libslide uses: He for ReLU layers, 1/sqrt(fan_in) for softmax."""
    return math.sqrt(6.0 / fan_in) if relu else 1.0 / math.sqrt(fan_in)


# ------------------------------------------------------------------------------------------ memory
def reset_peak_rss() -> bool:
    """Resets this process's VmHWM (Linux >= 4.0); False when the kernel refuses."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_mib(was_reset: bool) -> float:
    """VmHWM (the peak since the last reset) in MiB, or the process's peak so far when it was not reset."""
    if was_reset:
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except (OSError, ValueError, IndexError):
            pass
    return _common.peak_rss_mib()


# ------------------------------------------------------------------------------------------ trainers
class TorchDense:
    """The network as torch.nn.Sequential, trained with F.cross_entropy and torch.optim.Adam."""

    def __init__(self, torch, width, a, X, y):
        nn = torch.nn
        self.torch, self.F = torch, torch.nn.functional
        torch.set_num_threads(a.threads)
        torch.manual_seed(a.seed)
        dims = [INPUT] + [width] * N_HIDDEN + [CLASSES]
        mods = []
        for i, (d_in, d_out) in enumerate(zip(dims, dims[1:])):
            lin = nn.Linear(d_in, d_out)
            relu = i < N_HIDDEN
            with torch.no_grad():
                lim = init_limit(d_in, relu)
                lin.weight.uniform_(-lim, lim)
                lin.bias.zero_()
            mods += [lin, nn.ReLU()] if relu else [lin]
        self.model = nn.Sequential(*mods)
        lr = a.lr_torch if a.lr_torch is not None else a.lr
        try:
            self.opt = torch.optim.Adam(self.model.parameters(), lr=lr, fused=True)
            fused = True
        except (RuntimeError, TypeError, ValueError):
            self.opt = torch.optim.Adam(self.model.parameters(), lr=lr)
            fused = False
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)
        self.chunk = a.eval_chunk
        n_params = sum(p.numel() for p in self.model.parameters())
        self.version = torch.__version__
        self.config = {"lr": lr, "optimizer": f"torch.optim.Adam(fused={fused})", "parameters": n_params}
        # parameters, gradients and Adam's two moments, float32
        self.model_bytes = 4 * 4 * n_params

    def step(self, rows):
        idx = self.torch.from_numpy(rows)
        logits = self.model(self.X.index_select(0, idx))
        loss = self.F.cross_entropy(logits, self.y.index_select(0, idx))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return loss.item()

    def predict(self, X):
        Xt = self.torch.from_numpy(X)
        out = np.empty(X.shape[0], np.int64)
        with self.torch.inference_mode():
            for s in range(0, X.shape[0], self.chunk):
                out[s:s + self.chunk] = self.model(Xt[s:s + self.chunk]).argmax(dim=1).numpy()
        return out

    def extra(self):
        return {}


class SlideNet:
    """The network as sl.Network; sampling=None computes every neuron, else each hidden layer is sampled."""

    def __init__(self, sl, width, a, X, y, sampling):
        self.sampled = sampling is not None
        self.tables = self.sampled and sampling.hash != "exact"  # the exact selection reads no tables
        layers = [sl.Layer(width, activation="relu", sampling=sampling) for _ in range(N_HIDDEN)]
        layers.append(sl.Layer(CLASSES, activation="softmax"))
        self.net = sl.Network(input_dim=INPUT, layers=layers, optimizer=sl.Adam(lr=a.lr), seed=a.seed,
                              threads=a.threads)
        # C views built once (as Network.fit does), so train_batch does not re-marshal the data every batch;
        # the plain arrays if that private helper moves.
        try:
            from libslide._inputs import features, labels

            self.xv, self.yv = features(X, INPUT), labels(y, X.shape[0], CLASSES)
        except ImportError:
            self.xv, self.yv = X, y
        self.net.reset_counters()
        self.version = sl.__version__
        self.config = {"lr": self.net.optimizer.lr, "optimizer": repr(self.net.optimizer),
                       "lsh": None if sampling is None else repr(sampling.resolved()),
                       "lsh_requested": None if sampling is None else repr(sampling)}
        self.model_bytes = self.net.memory_bytes()

    def step(self, rows):
        return self.net.train_batch(self.xv, self.yv, rows=rows)["loss"]

    def predict(self, X):
        return self.net.predict_topk(X, k=1, mode="exact")[0][:, 0]

    def extra(self):
        out = {"mean_active": [self.net.layers[i].mean_active for i in range(N_HIDDEN)]}
        if self.tables:  # what the automatic settings resolved to (LSH.resolved() leaves them None)
            out["tables"] = [{k: getattr(self.net.table_stats(i), k) for k in
                              ("tables", "buckets", "bucket_capacity", "present_share", "table_bytes")}
                             for i in range(N_HIDDEN)]
        return out


def make_trainer(impl, width, a, X, y, libs):
    if impl == "torch-dense":
        return TorchDense(libs["torch"], width, a, X, y)
    sl = libs["sl"]
    sampling = {"slide-lsh": lambda: sl.LSH(active=a.fraction, hash="simhash"),
                "slide-exact": lambda: sl.LSH(active=a.fraction, hash="exact")}.get(impl, lambda: None)()
    return SlideNet(sl, width, a, X, y, sampling)


# ------------------------------------------------------------------------------------------ one run
def accuracy(tr, X, y):
    return float(np.mean(tr.predict(X) == y))


def run(impl, width, a, data, libs):
    """Trains one implementation for the budget, evaluating on the way; returns its record."""
    X, y, Xv, yv, Xt, yt = data
    was_reset = reset_peak_rss()
    load = _common.load_average_1min()
    tr = make_trainer(impl, width, a, X, y, libs)
    tag = f"[W={width} {impl}]"
    print(f"{tag} {tr.config}", flush=True)
    n, B = X.shape[0], a.batch
    st = {"train_s": 0.0, "cpu_s": 0.0, "samples": 0, "epoch": 0, "loss_sum": 0.0, "loss_n": 0}
    curve = []

    def evaluate():
        t0 = time.perf_counter()
        val, test = accuracy(tr, Xv, yv), accuracy(tr, Xt, yt)
        eval_s = time.perf_counter() - t0
        loss = st["loss_sum"] / st["loss_n"] if st["loss_n"] else float("nan")
        st["loss_sum"], st["loss_n"] = 0.0, 0
        curve.append({"train_s": st["train_s"], "samples": st["samples"], "epochs": st["samples"] / n,
                      "val_P@1": val, "P@1": test, "train_loss": loss, "eval_s": eval_s})
        print(f"{tag} {st['train_s']:7.1f} s, {st['samples']:9,} samples ({st['samples'] / n:.2f} epochs), "
              f"loss {loss:.4f}, validation P@1 {val:.4f}, test P@1 {test:.4f} (eval {eval_s:.1f} s)", flush=True)

    budget = a.minutes * 60.0
    rng = np.random.default_rng(a.seed)
    next_ck = a.eval_every
    diverged = None
    done = False
    while not done:
        if a.max_epochs is not None and st["epoch"] >= a.max_epochs:
            break
        order = rng.permutation(n).astype(np.int64)
        st["epoch"] += 1
        for s in range(0, n, B):
            rows = order[s:s + B]
            t0, c0 = time.perf_counter(), time.process_time()
            loss = tr.step(rows)
            st["train_s"] += time.perf_counter() - t0
            st["cpu_s"] += time.process_time() - c0
            st["samples"] += rows.size
            st["loss_sum"] += loss
            st["loss_n"] += 1
            if not math.isfinite(loss):
                diverged = f"loss {loss} at {st['samples']:,} samples"
                print(f"{tag} diverged: {diverged}", flush=True)
                done = True
                break
            if st["train_s"] >= budget:
                done = True
                break
            if st["train_s"] >= next_ck:
                evaluate()
                while next_ck <= st["train_s"]:
                    next_ck += a.eval_every
    if not curve or curve[-1]["samples"] != st["samples"]:
        evaluate()
    chosen = selected(curve)
    rec = {
        "impl": impl, "width": width, "version": tr.version, "config": tr.config, "threads": a.threads,
        "train_s": st["train_s"], "samples": st["samples"], "epochs": st["samples"] / n,
        "samples_per_s": st["samples"] / st["train_s"], "cpus_used": st["cpu_s"] / st["train_s"],
        "final_P@1": curve[-1]["P@1"], "final_val_P@1": curve[-1]["val_P@1"],
        "selected_P@1": chosen["P@1"], "selected_val_P@1": chosen["val_P@1"], "selected_train_s": chosen["train_s"],
        "eval_s": sum(c["eval_s"] for c in curve), "diverged": diverged,
        "load_average_1min_at_start": load, "model_bytes": tr.model_bytes,
        "peak_rss_mib": peak_rss_mib(was_reset),
        "peak_rss_scope": "each run (VmHWM reset before it)" if was_reset else "the process so far",
        **tr.extra(), "curve": curve,
    }
    del tr
    gc.collect()
    print(f"{tag} {rec['samples_per_s']:,.0f} samples/s ({rec['cpus_used']:.2f} CPUs used), {rec['epochs']:.2f} "
          f"epochs; selected P@1 {rec['selected_P@1']:.4f} (validation {rec['selected_val_P@1']:.4f} at "
          f"{rec['selected_train_s']:.0f} s); peak RSS {rec['peak_rss_mib']:,.0f} MiB", flush=True)
    return rec


# ------------------------------------------------------------------------------------------ criterion
def criterion(width, runs):
    """Target and t_torch from torch-dense's selected point; each run's time to target, its ratio to t_torch
    and the test P@1 of its best-validation point by t_torch / 3 (in place, on the run records)."""
    ref = next((r for r in runs if r["impl"] == "torch-dense" and "failed" not in r), None)
    out = {"width": width, "target_P@1": None, "t_torch_s": None, "criterion_met": None}
    if ref is None:
        return out
    target, t_torch = ref["selected_P@1"] - SLACK, ref["selected_train_s"]
    out.update({"target_P@1": target, "t_torch_s": t_torch})
    for r in runs:
        if "failed" in r:
            continue
        t = time_to_target(r["curve"], target)
        r["time_to_target_s"] = t
        r["ratio_to_torch"] = None if t is None or t_torch <= 0 else t / t_torch
        early = [c for c in r["curve"] if c["train_s"] <= SHARE * t_torch]
        r["P@1_by_third"] = selected(early)["P@1"] if early else None
    out["criterion_met"] = {}
    for r in runs:
        if r["impl"] in SAMPLED and "failed" not in r:
            ratio, third = r["ratio_to_torch"], r["P@1_by_third"]
            out["criterion_met"][r["impl"]] = {"by_curve": ratio is not None and ratio <= SHARE,
                                               "validation_only": third is not None and third >= target}
    return out


# ------------------------------------------------------------------------------------------ report
def width_table(w, runs, crit):
    rs = [r for r in runs if r["width"] == w]
    target, t_torch = crit["target_P@1"], crit["t_torch_s"]
    if target is None:
        head = f"**{w:,} units per hidden layer**: no torch-dense run, so no target."
    else:
        head = (f"**{w:,} units per hidden layer**: target P@1 {target:.4f} (torch-dense's selected P@1 - "
                f"{SLACK:g}); t_torch {t_torch:,.0f} s, a third of it {SHARE * t_torch:,.0f} s.")
    out = [head, "",
           "| implementation | samples/s (CPUs used) | selected P@1 (at s) | best validation P@1 | epochs "
           "| time to target | ratio to t_torch | P@1 by t_torch/3 (validation-selected) "
           "| mean active per hidden layer | peak RSS MiB (model MiB) | load at start |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rs:
        if "failed" in r:
            out.append(f"| {r['impl']} | failed: {r['failed']} | | | | | | | | | |")
            continue
        t = r.get("time_to_target_s")
        ratio = r.get("ratio_to_torch")
        third = r.get("P@1_by_third")
        active = " / ".join(f"{x:,.0f}" for x in r["mean_active"]) if "mean_active" in r else "all"
        note = f" (diverged: {r['diverged']})" if r["diverged"] else ""
        out.append(
            f"| {r['impl']}{note} | {r['samples_per_s']:,.0f} ({r['cpus_used']:.2f}) "
            f"| {r['selected_P@1']:.4f} ({r['selected_train_s']:,.0f} s) | {r['selected_val_P@1']:.4f} "
            f"| {r['epochs']:.2f} | {'—' if target is None else 'not reached' if t is None else f'{t:,.0f} s'} "
            f"| {'—' if ratio is None else f'{ratio:.2f}'} | {'—' if third is None else f'{third:.4f}'} "
            f"| {active} | {r['peak_rss_mib']:,.0f} ({r['model_bytes'] / 2**20:,.0f}) "
            f"| {r['load_average_1min_at_start']:.2f} |")
    scope = "" if w >= CRITERION_WIDTH else f" (the criterion is stated for widths >= {CRITERION_WIDTH:,})"
    for impl, met in (crit.get("criterion_met") or {}).items():
        verdict = "met" if met["by_curve"] else "not met"
        strict = "met" if met["validation_only"] else "not met"
        out += ["", f"{impl} within {SLACK * 100:g} point of torch-dense in <= 1/3 of its time: {verdict} by the "
                    f"test P@1 of the curve points, {strict} by the validation-selected point{scope}."]
    return "\n".join(out)


def markdown(res):
    s = res["settings"]
    lr_torch = s["lr_torch"] if s["lr_torch"] is not None else s["lr"]
    scopes = {r["peak_rss_scope"] for r in res["runs"] if "peak_rss_scope" in r}
    scope = scopes.pop() if len(scopes) == 1 else "each run, or of the process so far where the reset failed"
    out = [f"Fashion-MNIST (train 50,000 / validation 10,000 / test 10,000), 784 -> {N_HIDDEN} x W ReLU -> 10 "
           f"softmax, batch {s['batch']}, Adam lr {s['lr']:g} (torch-dense {lr_torch:g}); slide-lsh: "
           f"LSH(active={s['fraction']:g}, hash='simhash') on every hidden layer, slide-exact: LSH(active={s['fraction']:g}, "
           f"hash='exact'); {s['minutes']:g} min of training per "
           f"implementation and width, evaluated every {s['eval_every']:g} s of training; seed {s['seed']}; "
           f"{res['threads']} threads; {res['machine']}; OMP_WAIT_POLICY={res['env']['OMP_WAIT_POLICY']}.",
           "", f"`{res['command']}`", ""]
    for crit in res["criterion"]:  # the widths done so far
        out += [width_table(crit["width"], res["runs"], crit), ""]
    out += ["P@1: top-1 accuracy with every neuron computed. Selected P@1: test P@1 of the curve point with the "
            "best validation P@1 (the model an implementation returns). Time to target: training seconds of the "
            "first curve point whose test P@1 reaches the target (resolution: the evaluation interval); ratio: "
            "that over t_torch, torch-dense's time to its selected point. P@1 by t_torch/3: test P@1 of the "
            "best-validation point among those at or before a third of t_torch (no choice made on the test "
            "set). samples/s: training time only; CPUs used: process CPU time over training wall time. Peak "
            f"RSS: of {scope}, data and runtimes included; model: the network's parameters and optimizer state."]
    return "\n".join(out) + "\n"


def plot(res, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    crits = res["criterion"]  # the widths done so far
    fig, axes = plt.subplots(1, len(crits), figsize=(max(5.2 * len(crits), 8.0), 4.6), squeeze=False)
    for ax, crit in zip(axes[0], crits):
        w = crit["width"]
        for r in res["runs"]:
            if r["width"] != w or "failed" in r:
                continue
            c = r["curve"]
            color = COLORS.get(r["impl"])
            ax.plot([p["train_s"] for p in c], [p["P@1"] for p in c], "o-", ms=3, color=color,
                    label=f"{r['impl']} ({r['samples_per_s']:,.0f} samples/s)")
            ax.plot([r["selected_train_s"]], [r["selected_P@1"]], "*", ms=12, color=color)
        if crit["target_P@1"] is not None:
            ax.axhline(crit["target_P@1"], ls=":", color="gray", label=f"target {crit['target_P@1']:.4f}")
            ax.axvline(SHARE * crit["t_torch_s"], ls="--", lw=0.8, color="gray", label="t_torch / 3")
        ax.set_title(f"{w:,} units per hidden layer", fontsize=10)
        ax.set_xlabel("training wall time, s (evaluation excluded)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    axes[0][0].set_ylabel("test P@1 (10,000 images, every neuron computed)")
    s = res["settings"]
    fig.suptitle(f"Fashion-MNIST, 784 -> 3 x W ReLU -> 10, Adam lr {s['lr']:g}; slide-lsh / slide-exact {s['fraction']:.0%} "
                 f"active; star: best validation P@1\n{res['machine']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write(res, out, name):
    _common.write_json(out / f"{name}.json", res)
    md = markdown(res)
    (out / f"{name}.md").write_text(md)
    plot(res, out / f"{name}.png")
    return md


# ------------------------------------------------------------------------------------------ main
def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common.add_threads_arg(p)
    p.add_argument("--widths", type=int, nargs="+", default=[1024, 4096, 8192], help="units per hidden layer")
    p.add_argument("--impls", nargs="+", choices=IMPLS, default=IMPLS, help="run in this order for each width")
    p.add_argument("--minutes", type=float, default=10.0, help="training wall time per implementation and width")
    p.add_argument("--max-epochs", type=int, default=None, help="stop after this many epochs if earlier")
    p.add_argument("--eval-every", type=float, default=15.0, help="seconds of training between evaluations")
    p.add_argument("--eval-chunk", type=int, default=1000, help="torch-dense: images per evaluation forward pass")
    p.add_argument("--fraction", type=float, default=0.05, help="active share of each sampled hidden layer")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate of every implementation")
    p.add_argument("--lr-torch", type=float, default=None, help="torch-dense's learning rate (default: --lr)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--seed", type=int, default=0, help="weights and shuffling")
    p.add_argument("--data-dir", default=None, help="directory of the IDX files (default: the Debian package's)")
    p.add_argument("--name", default="wide", help="stem of the result files (default %(default)s)")
    p.add_argument("--out-dir", default=str(_common.RESULTS), help="directory of the three files (default %(default)s)")
    a = p.parse_args()
    if not 0 < a.fraction <= 1:
        p.error(f"--fraction must be in (0, 1], got {a.fraction}")
    if min(a.widths) < 1 or a.minutes <= 0 or a.eval_every <= 0 or a.eval_chunk < 1 or a.batch < 1:
        p.error("--widths, --minutes, --eval-every, --eval-chunk and --batch must be positive")

    # Before either library loads its OpenMP runtime; libslide first, so that its wait policy is the one the
    # shared libgomp reads (see the module docstring).
    os.environ["OMP_NUM_THREADS"] = str(a.threads)
    import libslide as sl

    libs = {"sl": sl}
    if "torch-dense" in a.impls:
        try:
            import torch
        except ImportError:
            raise SystemExit("bench/wide.py: PyTorch is not installed (pip install '.[bench]'); or leave "
                             "torch-dense out of --impls") from None
        libs["torch"] = torch

    header = _common.result_header(a.threads)
    env = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    lr_torch = a.lr_torch if a.lr_torch is not None else a.lr
    print(f"machine: {header['machine']}\ncommand: {header['command']}\nlibslide {sl.__version__}"
          + (f", torch {libs['torch'].__version__}" if "torch" in libs else "") + f"; {env}\n"
          f"Adam lr {a.lr:g} (torch-dense {lr_torch:g}), batch {a.batch}, {a.minutes:g} min per implementation "
          f"and width, evaluation every {a.eval_every:g} s of training", flush=True)
    X, y, Xt, yt = sl.datasets.load_fashion_mnist(a.data_dir)
    if X.shape[0] <= N_TRAIN:
        raise SystemExit(f"Fashion-MNIST: {X.shape[0]:,} training images, more than {N_TRAIN:,} needed")
    data = (X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:], y[N_TRAIN:], Xt, yt)
    print(f"data: {N_TRAIN:,} train / {X.shape[0] - N_TRAIN:,} validation / {Xt.shape[0]:,} test images", flush=True)

    settings = {k: getattr(a, k) for k in ("widths", "impls", "minutes", "max_epochs", "eval_every", "eval_chunk",
                                           "fraction", "lr", "lr_torch", "batch", "seed")}
    res = {**header, "libslide": sl.__version__, "torch": libs["torch"].__version__ if "torch" in libs else None,
           "env": env, "settings": settings, "n_train": N_TRAIN, "n_validation": X.shape[0] - N_TRAIN,
           "n_test": Xt.shape[0], "criterion": [], "runs": []}
    out = Path(a.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    for w in a.widths:
        runs = []
        for impl in a.impls:
            try:
                runs.append(run(impl, w, a, data, libs))
            except (MemoryError, RuntimeError, sl.SlideError) as e:  # recorded; the sweep goes on
                print(f"[W={w} {impl}] failed: {type(e).__name__}: {e}", flush=True)
                runs.append({"impl": impl, "width": w, "failed": f"{type(e).__name__}: {e}"})
            gc.collect()  # after the handler: its traceback held the failed run's model
        res["criterion"].append(criterion(w, runs))
        res["runs"] += runs
        res["total_seconds"] = time.perf_counter() - t_start
        md = write(res, out, a.name)
        print("\n" + width_table(w, runs, res["criterion"][-1]) + "\n", flush=True)
    print(md)
    print(f"wrote {out / (a.name + '.json')}, {out / (a.name + '.md')}, {out / (a.name + '.png')} "
          f"({res['total_seconds'] / 60:.1f} min)")


if __name__ == "__main__":
    main()
