"""oneDNN's fused linear layer on the CPU (``torch.ops.mkldnn._linear_pointwise``), where this torch has it.

On an AMD EPYC with AVX-512, MKL's sgemm behind ``F.linear`` and ``torch.mm`` ran small float32 products
(a few hundred to a few thousand rows by 128 features) at about half of oneDNN's rate
(benchmarks/README.md, "Generation cost" and "Speed"). The op is private to torch, so it is probed once
per process: :func:`onednn_linear_available` says whether it exists and computes what ``F.linear``
computes, and every user falls back to ``F.linear`` (or ``torch.mm``) when it does not, or off the CPU.
Users: :class:`haad.generator.denoiser.SamplingDenoiser` and :func:`haad.embedders.fast_embed`.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F


@functools.cache
def onednn_linear_available() -> bool:
    """Whether this torch has oneDNN's fused linear (``torch.ops.mkldnn._linear_pointwise``) and it
    computes what ``F.linear`` computes."""
    try:
        op = torch.ops.mkldnn._linear_pointwise
        x, w, b = torch.randn(5, 3), torch.randn(4, 3), torch.randn(4)
        return bool(torch.allclose(op(x, w, b, "none", [], ""), F.linear(x, w, b), atol=1e-5)
                    and torch.allclose(op(x, w, b, "gelu", [], "none"), F.gelu(F.linear(x, w, b)), atol=1e-5)
                    and torch.allclose(op.binary(x, b.expand(5, 4).contiguous(), w, b, "add"),
                                       F.linear(x, w, b) + b, atol=1e-5))
    except (AttributeError, RuntimeError):
        return False


@functools.cache
def onednn_matmul_available() -> bool:
    """Whether :func:`matmul` can use oneDNN: :func:`onednn_linear_available`, and the op also takes a
    transposed (non-contiguous) weight, which :func:`matmul` passes it."""
    if not onednn_linear_available():
        return False
    try:
        a, b = torch.randn(5, 3), torch.randn(3, 7)
        return bool(torch.allclose(torch.ops.mkldnn._linear_pointwise(a, b.t(), None, "none", [], ""), a @ b,
                                   atol=1e-5))
    except RuntimeError:
        return False


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
           onednn: bool = True) -> torch.Tensor:
    """``F.linear(x, weight, bias)`` of a 2-D float32 CPU ``x``, through oneDNN when ``onednn`` (the
    caller checks :func:`onednn_linear_available` and the device once)."""
    if onednn:
        return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")
    return F.linear(x, weight, bias)


def matmul(a: torch.Tensor, b: torch.Tensor, onednn: bool = True) -> torch.Tensor:
    """``a @ b`` of 2-D float32 CPU matrices, as oneDNN's linear of ``a`` with the weight ``b.t()``
    when ``onednn`` (the caller checks :func:`onednn_matmul_available` and the device once): for a
    small ``a`` (a J x J adjacency) and a wide ``b`` it ran at about twice MKL's rate."""
    if onednn:
        return torch.ops.mkldnn._linear_pointwise(a, b.t(), None, "none", [], "")
    return a @ b
