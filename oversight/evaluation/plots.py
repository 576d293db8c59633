"""Report figures. Built on matplotlib's object API (Figure renders with the Agg canvas), so no
display and no pyplot global state are involved."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .scores import Roc


def _log_floor(rates: np.ndarray) -> np.ndarray:
    """Rates for a log axis, which cannot show zero: zeros drawn at half the smallest rate."""
    positive = rates[rates > 0]
    return np.clip(rates, positive.min() / 2 if positive.size else 1e-6, 1)


def roc_and_det(curve: Roc, label: str) -> Figure:
    """ROC (true accepts against false accepts) and DET (both error rates), log axes."""
    figure = Figure(figsize=(10, 4))
    roc_axes, det_axes = figure.subplots(1, 2)
    roc_axes.plot(_log_floor(curve.fmr), curve.tar, label=label)
    roc_axes.set(xscale="log", xlabel="false match rate (FMR)", ylabel="true accept rate",
                 title="ROC")
    det_axes.plot(_log_floor(curve.fmr), _log_floor(curve.fnmr), label=label)
    det_axes.set(xscale="log", yscale="log", xlabel="false match rate (FMR)",
                 ylabel="false non-match rate (FNMR)", title="DET")
    # A fixed legend place: matplotlib's "best" search is slow over millions of points.
    for axes, place in ((roc_axes, "lower right"), (det_axes, "upper right")):
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(loc=place)
    return figure


def score_histogram(genuine: np.ndarray, impostor: np.ndarray, thresholds: list[float],
                    xlabel: str = "Similarity") -> Figure:
    """Genuine and impostor score distributions with the operating thresholds marked."""
    figure = Figure(figsize=(7, 4))
    axes = figure.subplots()
    bins = np.linspace(min(np.min(genuine, initial=0), np.min(impostor, initial=0)),
                       max(np.max(genuine, initial=100), np.max(impostor, initial=100)), 60)
    axes.hist(impostor, bins=bins, alpha=0.6, density=True, label=f"impostor ({impostor.size})")
    axes.hist(genuine, bins=bins, alpha=0.6, density=True, label=f"genuine ({genuine.size})")
    for threshold in thresholds:
        axes.axvline(threshold, color="k", linestyle=":", linewidth=1)
    axes.set(xlabel=xlabel, ylabel="density", yscale="log", title="Score distributions")
    axes.legend(loc="upper center")
    return figure


def group_bars(values: dict[str, float | None], title: str, ylabel: str,
               log: bool = False) -> Figure:
    """One bar per group; groups with nothing measured are labelled n/a instead of drawn."""
    figure = Figure(figsize=(7, 3.5))
    axes = figure.subplots()
    names = list(values)
    heights = [values[name] or 0.0 for name in names]
    bars = axes.bar(names, heights)
    for bar, name in zip(bars, names, strict=True):
        if values[name] is None:
            axes.annotate("n/a", (bar.get_x() + bar.get_width() / 2, 0), ha="center",
                          va="bottom")
    if log and any(heights):
        axes.set_yscale("log")
    axes.set(title=title, ylabel=ylabel)
    axes.tick_params(axis="x", labelrotation=30)
    return figure
