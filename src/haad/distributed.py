"""Data-parallel training across processes launched by ``torchrun`` (DistributedDataParallel).

``torchrun --nproc_per_node N`` starts N copies of a program with ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK`` (and the rendezvous address) in their environment. :func:`session` reads them and
initialises the default process group (``nccl`` for CUDA, ``gloo`` for the CPU) and tears it down
again; without them (a plain run) it does nothing and every helper here is the identity or a no-op,
so single-process code runs exactly as before.

Training splits one *global* batch between the ranks (:func:`shard`): every rank draws the same
batch and encodes its own contiguous rows. :func:`gather_shards` joins the embeddings again, with
gradients, so the loss is computed over the whole global batch on every rank; BatchNorm sees the whole
global batch too (:func:`convert_batchnorm`).

Gradient scale: every collective here has the backward of its adjoint (a sum over ranks), and every
rank computes the same full loss L. Each rank's shard therefore receives W times its share of dL/dz
(W = world size), and DistributedDataParallel's average over the W ranks divides that W out again:
the averaged gradient equals the one-process gradient of L, so the loss is not rescaled.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import torch
import torch.distributed as dist
from torch import nn


def env_ranks() -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` as ``torchrun`` sets them in the environment; ``(0, 1, 0)``
    for a plain run."""
    return (int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
            int(os.environ.get("LOCAL_RANK", 0)))


def world_size() -> int:
    """Processes in the default process group (1 when none is initialised)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's rank in the default process group (0 when none is initialised)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    """Whether this process writes files, prints and shows progress: rank 0, or a plain run."""
    return rank() == 0


def barrier() -> None:
    """Wait for every rank (a no-op in one process)."""
    if world_size() > 1:
        dist.barrier()


def local_device(device="cpu") -> torch.device:
    """The device this rank trains on: ``cuda`` becomes ``cuda:LOCAL_RANK`` under ``torchrun`` (one
    GPU per process); any other device is returned as it is."""
    device = torch.device(device)
    if device.type == "cuda" and device.index is None and env_ranks()[1] > 1:
        return torch.device("cuda", env_ranks()[2])
    return device


_store = None  # the job's rendezvous store, made once per process
_groups = 0  # process groups this process has initialised, to give each its own keys in the store


def _init_process_group(backend: str) -> None:
    """Initialise the default process group from the ``torchrun`` environment (``env://``).

    The rendezvous store is made once per process and each group gets its own key prefix in it, so a
    process may join, leave and join again (two trainings in one run): a second ``env://``
    initialisation would meet the first one's keys in the store, or its still-open port, and hang.
    """
    global _store, _groups
    rank, world, _ = env_ranks()
    if _store is None:
        _store, _, _ = next(dist.rendezvous("env://", rank, world))
    _groups += 1
    dist.init_process_group(backend, store=dist.PrefixStore(f"haad/{_groups}/", _store), rank=rank,
                            world_size=world)


@contextmanager
def session(device="cpu"):
    """Join the ``torchrun`` job this process belongs to, if any, for the duration of the block.

    With ``WORLD_SIZE > 1`` in the environment and no process group yet, initialise the default one
    (``env://`` rendezvous; backend ``nccl`` when ``device`` is CUDA, else ``gloo``) and destroy it
    on exit, also on an error. Inside another session, or in a plain run, it does nothing. Yields
    :func:`local_device` of ``device``.
    """
    device = local_device(device)
    owner = env_ranks()[1] > 1 and dist.is_available() and not dist.is_initialized()
    if owner:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        _init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield device
    finally:
        if owner and dist.is_initialized():
            dist.destroy_process_group()


def shard_sizes(total: int, world: int | None = None) -> list[int]:
    """Rows of a batch of ``total`` that each rank takes: as even as possible, the first
    ``total % world`` ranks one more. Refuses a batch smaller than the number of ranks."""
    world = world_size() if world is None else world
    if total < world:
        raise ValueError(f"a global batch of {total} cannot be shared by {world} processes; "
                         "use fewer processes or a larger batch")
    return [total // world + (r < total % world) for r in range(world)]


def shard(total: int) -> slice:
    """This rank's contiguous rows of a global batch of ``total`` (all of them in one process)."""
    sizes, r = shard_sizes(total), rank()
    start = sum(sizes[:r])
    return slice(start, start + sizes[r])


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks; its adjoint (the backward) is a sum of the gradients over ranks."""

    @staticmethod
    def forward(ctx, x):
        x = x.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad):
        grad = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(grad)
        return grad


class _GatherRows(torch.autograd.Function):
    """Concatenate every rank's rows (uneven counts allowed); backward: this rank's rows of the
    gradient summed over ranks (the adjoint of the gather)."""

    @staticmethod
    def forward(ctx, x, sizes):
        ctx.rows = shard(sum(sizes))
        # Collectives need one shape on every rank: pad each shard to the largest.
        padded = x.new_zeros((max(sizes), *x.shape[1:]))
        padded[: len(x)] = x
        parts = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(parts, padded)
        return torch.cat([p[:n] for p, n in zip(parts, sizes)])

    @staticmethod
    def backward(ctx, grad):
        grad = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(grad)
        return grad[ctx.rows], None


def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum of ``x`` over ranks, differentiable (``x`` itself in one process)."""
    return _AllReduceSum.apply(x) if world_size() > 1 else x


def gather_shards(x: torch.Tensor, total: int) -> torch.Tensor:
    """The global batch of ``total`` rows from every rank's shard ``x`` (as cut by :func:`shard`),
    with gradients flowing back to each rank's own rows; ``x`` itself in one process."""
    sizes = shard_sizes(total)
    if x.shape[0] != sizes[rank()]:
        raise ValueError(f"rank {rank()} holds {x.shape[0]} rows, its shard of {total} has {sizes[rank()]}")
    return _GatherRows.apply(x, sizes) if len(sizes) > 1 else x


class GlobalBatchNorm(nn.BatchNorm1d):
    """``BatchNorm1d`` whose training-mode statistics are those of the global batch over all ranks.

    ``torch.nn.SyncBatchNorm`` does this on GPUs only: in torch 2.13 it refuses CPU input ("expected
    input tensor to be on GPU ...") and its kernels (``batch_norm_stats``) have no CPU implementation.
    This module computes the global mean and the (biased) variance with two differentiable sums over
    ranks (:func:`all_reduce_sum`; two passes, mean first, for the same numerical behaviour as
    BatchNorm's own), normalises with them, and updates the running statistics like ``BatchNorm1d``
    (unbiased variance over the global count). In eval mode, or in one process, it is ``BatchNorm1d``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or world_size() == 1:
            return super().forward(x)
        self._check_input_dim(x)
        dims = [0, *range(2, x.ndim)]
        shape = [1, -1] + [1] * (x.ndim - 2)
        # One sum over ranks for the per-channel sums and the row count together.
        sums = all_reduce_sum(torch.cat([x.sum(dims), x.new_tensor([x.numel() // x.shape[1]])]))
        count = sums[-1].detach()
        mean = sums[:-1] / count
        centred = x - mean.reshape(shape)
        var = all_reduce_sum((centred * centred).sum(dims)) / count
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean.mul_(1 - m).add_(m * mean)
                self.running_var.mul_(1 - m).add_(m * var * (count / (count - 1)))
        y = centred * torch.rsqrt(var + self.eps).reshape(shape)
        return y * self.weight.reshape(shape) + self.bias.reshape(shape) if self.affine else y


def _swap_batchnorm(module: nn.Module, kinds, make) -> nn.Module:
    """Replace every layer of a class in ``kinds`` below ``module`` by ``make(layer)``, keeping its
    parameter and buffer tensors (so an optimizer built on the module keeps working)."""
    for name, child in module.named_children():
        if isinstance(child, kinds):
            new = make(child)
            for key in ("weight", "bias"):
                setattr(new, key, getattr(child, key))
            for key in ("running_mean", "running_var", "num_batches_tracked"):
                setattr(new, key, getattr(child, key))
            new.train(child.training)
            setattr(module, name, new)
        else:
            _swap_batchnorm(child, kinds, make)
    return module


def _like(cls, bn):
    return cls(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats)


def convert_batchnorm(module: nn.Module, device) -> nn.Module:
    """Make every BatchNorm of ``module`` normalise over the global batch: ``torch.nn.SyncBatchNorm``
    on CUDA (``convert_sync_batchnorm``), :class:`GlobalBatchNorm` on the CPU. In place, and the
    same parameter tensors; a no-op in one process."""
    if world_size() == 1:
        return module
    if torch.device(device).type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return _swap_batchnorm(module, nn.modules.batchnorm._BatchNorm, lambda bn: _like(GlobalBatchNorm, bn))


def restore_batchnorm(module: nn.Module) -> nn.Module:
    """Undo :func:`convert_batchnorm`: plain ``BatchNorm1d`` layers (the only kind the encoder uses),
    same tensors."""
    return _swap_batchnorm(module, (GlobalBatchNorm, nn.SyncBatchNorm), lambda bn: _like(nn.BatchNorm1d, bn))


def data_parallel(module: nn.Module, device) -> nn.Module:
    """``module`` with global-batch BatchNorm wrapped in DistributedDataParallel (gradients averaged
    over ranks); ``module`` itself in one process."""
    if world_size() == 1:
        return module
    device = torch.device(device)
    convert_batchnorm(module, device)
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)
