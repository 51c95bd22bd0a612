"""Seeing the pathology: gradient statistics and histograms (`stats`), stiffness
(`hessian`), and the recorders that run them during training (`recorders`)."""

from .hessian import hessian_vector_product, lanczos_max_eigenvalue, loss_max_eigenvalue
from .recorders import DEFAULT_HIST_STEPS, HistogramRecorder, StiffnessRecorder
from .stats import LOG_RANGE, gradient_summary, histogram, layer_histograms

__all__ = [
    "gradient_summary",
    "histogram",
    "layer_histograms",
    "LOG_RANGE",
    "hessian_vector_product",
    "lanczos_max_eigenvalue",
    "loss_max_eigenvalue",
    "HistogramRecorder",
    "StiffnessRecorder",
    "DEFAULT_HIST_STEPS",
]
