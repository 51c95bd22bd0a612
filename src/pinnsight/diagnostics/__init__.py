"""Seeing the pathology: gradient statistics and histograms (`stats`), stiffness
(`hessian`), NTK spectra per term (`ntk`), the recorders that run them during training
(`recorders`), and the doctor that turns them into findings and cures (`doctor`)."""

from .doctor import PATHOLOGIES, SEVERITIES, THRESHOLDS, Diagnosis, Finding, doctor
from .hessian import (
    hessian_vector_product,
    lanczos_eigenvalues,
    lanczos_max_eigenvalue,
    lanczos_tridiagonal,
    loss_max_eigenvalue,
)
from .ntk import NTKSpectrum, ntk_block_trace, ntk_operator, ntk_spectrum, term_misfits
from .recorders import DEFAULT_HIST_STEPS, HistogramRecorder, NTKRecorder, StiffnessRecorder
from .stats import LOG_RANGE, gradient_summary, histogram, layer_histograms

__all__ = [
    "gradient_summary",
    "histogram",
    "layer_histograms",
    "LOG_RANGE",
    "hessian_vector_product",
    "lanczos_tridiagonal",
    "lanczos_eigenvalues",
    "lanczos_max_eigenvalue",
    "loss_max_eigenvalue",
    "NTKSpectrum",
    "term_misfits",
    "ntk_operator",
    "ntk_block_trace",
    "ntk_spectrum",
    "HistogramRecorder",
    "StiffnessRecorder",
    "NTKRecorder",
    "DEFAULT_HIST_STEPS",
    "doctor",
    "Diagnosis",
    "Finding",
    "THRESHOLDS",
    "SEVERITIES",
    "PATHOLOGIES",
]
