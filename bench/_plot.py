"""The figure of bench/vs_torch.py: P@1 against training wall time and against epochs, one line per
implementation, a star on the checkpoint early stopping returns."""

from __future__ import annotations

from _data import IMPLS, IMPLS_EXTRA, selected


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    colors = {impl: f"C{i}" for i, impl in enumerate(IMPLS + IMPLS_EXTRA)}
    seen = set()
    for run in results["runs"]:
        impl = run["impl"]
        c = run["curve"]
        p1 = [r["P@1"] for r in c]
        ax.plot([r["train_s"] for r in c], p1, "o-", ms=3, color=colors[impl],
                label=None if impl in seen else f"{impl} ({run['samples_per_s']:,.0f} samples/s)")
        ax2.plot([r["samples"] / results["n_train"] for r in c], p1, "o-", ms=3, color=colors[impl])
        if "val_P@1" in c[0]:  # the checkpoint early stopping returns
            sel = selected(c)
            ax.plot([sel["train_s"]], [sel["P@1"]], "*", ms=12, color=colors[impl],
                    label="best validation P@1 (early stopping)" if not seen else None)
            ax2.plot([sel["samples"] / results["n_train"]], [sel["P@1"]], "*", ms=12, color=colors[impl])
        seen.add(impl)
    for a in (ax, ax2):
        a.axhline(results["most_frequent_labels"]["P@1"], ls="--", lw=0.8, color="black", alpha=0.5,
                  label="always the most frequent label" if a is ax else None)
        if results.get("target_P@1") is not None:
            a.axhline(results["target_P@1"], ls=":", color="gray",
                      label=f"target P@1 {results['target_P@1']:.3f}" if a is ax else None)
        a.set_ylim(bottom=0)
        a.grid(alpha=0.3)
    ax.set_xlabel("training wall time, s (evaluation excluded)")
    ax.set_ylabel(f"P@1 (exact, {results['eval_rows']:,} random test rows)")
    ax.set_title(f"{results['dataset']}: P@1 vs training time, {results['threads']} thread"
                 f"{'' if results['threads'] == 1 else 's'}, {results['machine']}",
                 fontsize=10)
    ax.legend(fontsize=8)
    ax2.set_xlabel("epochs (training samples / training rows)")
    ax2.set_title("the same against data seen", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
