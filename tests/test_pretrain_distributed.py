"""Data-parallel training (haad.distributed) against one process: 2 CPU ranks on gloo.

One launch of two worker processes (this file run as a script, with the environment ``torchrun`` would
give it: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) does every distributed run; the
tests compare what the ranks saved with the same computations in this process.

Tolerances. Two ranks add the same numbers in another order (BatchNorm statistics as two partial
sums, the gradient as two halves averaged by DistributedDataParallel), so float32 results differ in
the last bits: one step's gradients agree to a relative 1e-5 of their largest entry (measured: below
1e-6), so a wrongly scaled loss (a gradient off by the world size, which AdamW would nearly hide in
the weights) or a BatchNorm over one shard only is caught. After 6-8 AdamW steps the weights agree
within 1e-5 (measured: at most 4e-7; against updates of about 1e-3 per step), except the two
NOISE_DRIVEN tensors, whose trained values are rounding noise that AdamW amplifies (they differ as
much between one-process runs with 1 and 2 threads); for them the trained encoders are compared by
their eval-mode embeddings, within 1e-4 of the largest (measured: 1e-5).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import haad.train as train_mod
from haad import distributed
from haad.checkpoint import load_checkpoint
from haad.cli import main
from haad.contrastive import BalancedBatchSampler, multi_positive_loss
from haad.encoder import ActionEncoder, EncoderConfig
from haad.train import TrainConfig, load_encoder, train_encoder

ENCODER = EncoderConfig(num_joints=6, hidden=16, blocks=2)
# 5 categories: per_class 3 gives a global batch of 15 (shards of 8 and 7), rotated windows;
# the resumed run has one extra view per clip and per_class 2, a batch of 20 (10 and 10).
UNEVEN = TrainConfig(epochs=3, iters_per_epoch=2, lr_fix_epochs=1, per_class=3, rotate=True, seed=5,
                     checkpoint_every=2)
RESUMED = TrainConfig(epochs=4, iters_per_epoch=2, lr_fix_epochs=1, per_class=2, seed=7, checkpoint_every=2)
GRAD_RTOL = 1e-5
WEIGHT_ATOL = 1e-5
# The input graph convolution's bias sits in front of a BatchNorm, which subtracts it again: its true
# gradient is zero and the computed one is rounding noise (below 1e-6 of the largest gradient, checked
# below), which AdamW scales up to steps of up to about lr. It drifts differently in every run, and the
# running mean of that BatchNorm follows it; the training-mode embeddings do not depend on it at all.
NOISE_DRIVEN = ("inp.gc.bias", "inp.bn.running_mean")
EMBED_RTOL = 1e-4


def _data():
    """A tiny synthetic training set: 5 categories x 8 random windows of 60 frames, 6 joints."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 60, 6, 3)).astype(np.float32)
    return x, np.repeat(np.arange(5), 8), 0.9 * x[:, None]


def _one_step(per_class: int) -> dict:
    """Loss, gradients and BatchNorm running statistics after one step on one balanced batch, the way
    train_encoder computes them (sharded and gathered under torchrun, whole in one process)."""
    x, y, _ = _data()
    torch.manual_seed(0)
    encoder = ActionEncoder(ENCODER)
    model = distributed.data_parallel(encoder, "cpu")
    idx = BalancedBatchSampler(y, per_class).sample(np.random.default_rng(1))
    xb, groups = torch.from_numpy(x[idx]), torch.as_tensor(y[idx])
    z = distributed.gather_shards(model(xb[distributed.shard(len(xb))]), len(xb))
    loss = multi_positive_loss(z, groups)
    loss.backward()
    return {"loss": loss.item(), "grads": {n: p.grad.clone() for n, p in encoder.named_parameters()},
            "buffers": {n: b.clone() for n, b in encoder.named_buffers()}}


def _worker(out: Path) -> None:
    """One rank of the two-process job (run as a script by the ``runs`` fixture)."""
    torch.set_num_threads(1)
    x, y, views = _data()
    saves = []
    real_save, real_lr = train_mod.save_encoder, train_mod.lr_factor

    def recording_save(directory, *args, **kwargs):
        saves.append(Path(directory).name)
        return real_save(directory, *args, **kwargs)

    def interrupted_lr(epoch, cfg):
        if epoch == 2:  # right after the checkpoint of epoch 2
            raise KeyboardInterrupt
        return real_lr(epoch, cfg)

    train_mod.save_encoder = recording_save
    result = {}
    # train_encoder on its own joins the job and leaves it again ...
    enc, hist = train_encoder(x, y, ENCODER, UNEVEN, out_dir=out / "uneven", progress=True)
    result["uneven"], result["uneven_loss"] = enc.state_dict(), hist["loss"]
    result["uneven_bn"] = sorted({type(m).__name__ for m in enc.modules() if "BatchNorm" in type(m).__name__})
    result["group_left"] = [torch.distributed.is_initialized()]
    # ... and inside a session (as in haad pretrain) uses the session's process group.
    with distributed.session("cpu"):
        result["world"] = (distributed.rank(), distributed.world_size())
        result["step_even"], result["step_odd"] = _one_step(2), _one_step(3)
        train_mod.lr_factor = interrupted_lr
        try:
            train_encoder(x, y, ENCODER, RESUMED, extra_views=views, out_dir=out / "resumed", progress=False)
        except KeyboardInterrupt:
            result["interrupted"] = True
        train_mod.lr_factor = real_lr
        distributed.barrier()
        result["partial_epochs"] = load_checkpoint(out / "resumed")[1]["meta"]["epochs_done"]
        enc, hist = train_encoder(x, y, ENCODER, RESUMED, extra_views=views, out_dir=out / "resumed",
                                  resume=True, progress=False)
        result["resumed"], result["resumed_loss"] = enc.state_dict(), hist["loss"]
    result["saves"] = saves
    result["group_left"].append(torch.distributed.is_initialized())
    torch.save(result, out / f"rank{os.environ['RANK']}.pt")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Launch the two ranks once; returns (out dir, [rank 0 result, rank 1 result], [their stderr])."""
    out = tmp_path_factory.mktemp("ddp")
    port = _free_port()
    procs = []
    for r in range(2):
        env = {**os.environ, "RANK": str(r), "LOCAL_RANK": str(r), "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2",
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "OMP_NUM_THREADS": "1"}
        procs.append(subprocess.Popen([sys.executable, __file__, str(out)], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    errs = []
    for p in procs:
        try:
            _, err = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("the two ranks did not finish within 120 s")
        errs.append(err)
        assert p.returncode == 0, err[-3000:]
    return out, [torch.load(out / f"rank{r}.pt") for r in range(2)], errs


def _one_process(cfg: TrainConfig, out_dir=None, **kwargs):
    x, y, views = _data()
    views = views if kwargs.pop("views", False) else None
    return train_encoder(x, y, ENCODER, cfg, extra_views=views, out_dir=out_dir, progress=False, **kwargs)


def _max_diff(a: dict, b: dict, skip=()) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a if k not in skip)


def _check_weights(got: dict, ref: ActionEncoder) -> float:
    """Weights outside NOISE_DRIVEN within WEIGHT_ATOL; the whole encoder (noise-driven tensors
    included) computes the same eval-mode embeddings within EMBED_RTOL of their largest entry."""
    diff = _max_diff(got, ref.state_dict(), skip=NOISE_DRIVEN)
    noise = _max_diff({k: got[k] for k in NOISE_DRIVEN}, {k: ref.state_dict()[k] for k in NOISE_DRIVEN})
    print(f"max |weight difference| 2 processes vs 1: {diff:.3g} ({noise:.3g} in {', '.join(NOISE_DRIVEN)})")
    assert diff < WEIGHT_ATOL
    twin = ActionEncoder(ENCODER)
    twin.load_state_dict(got)
    x = torch.from_numpy(_data()[0])
    with torch.no_grad():
        z_ref, z_got = ref.eval()(x), twin.eval()(x)
    assert torch.allclose(z_got, z_ref, rtol=0, atol=EMBED_RTOL * float(z_ref.abs().max()))
    return diff


def test_shard_sizes_even_and_uneven():
    assert distributed.shard_sizes(20, 2) == [10, 10]
    assert distributed.shard_sizes(15, 2) == [8, 7]
    assert distributed.shard_sizes(10, 4) == [3, 3, 2, 2]
    with pytest.raises(ValueError, match="cannot be shared"):
        distributed.shard_sizes(3, 4)


def test_one_process_helpers_are_the_identity():
    assert distributed.world_size() == 1 and distributed.is_main()
    z = torch.randn(7, 3, requires_grad=True)
    assert distributed.shard(7) == slice(0, 7)
    assert distributed.gather_shards(z, 7) is z and distributed.all_reduce_sum(z) is z
    enc = ActionEncoder(ENCODER)
    assert distributed.data_parallel(enc, "cpu") is enc
    assert all(type(m) is torch.nn.BatchNorm1d for m in enc.modules() if isinstance(m, torch.nn.BatchNorm1d))
    with distributed.session("cpu") as device:  # no torchrun environment: nothing is initialised
        assert device == torch.device("cpu") and not torch.distributed.is_initialized()


@pytest.mark.slow  # one 2-process job (about 9 s) shared by these tests
def test_ranks_saw_the_job(runs):
    _, (r0, r1), _ = runs
    assert r0["world"] == (0, 2) and r1["world"] == (1, 2)
    # train_encoder's own session and the worker's each destroyed the process group they created
    assert r0["group_left"] == r1["group_left"] == [False, False]
    # the returned encoder has plain BatchNorm layers again
    assert r0["uneven_bn"] == ["BatchNorm1d"]


@pytest.mark.parametrize("case,per_class", [("step_even", 2), ("step_odd", 3)])
@pytest.mark.slow  # one 2-process job (about 9 s) shared by these tests
def test_one_step_gradient_equals_one_process(runs, case, per_class):
    _, ranks, _ = runs
    ref = _one_step(per_class)
    scale = max(float(g.abs().max()) for g in ref["grads"].values())
    for got in (r[case] for r in ranks):
        print(f"{case}: max |gradient difference| / max |gradient| = "
              f"{_max_diff(got['grads'], ref['grads']) / scale:.3g}")
        assert got["loss"] == pytest.approx(ref["loss"], rel=1e-6)
        assert float(ref["grads"]["inp.gc.bias"].abs().max()) < 1e-6 * scale  # see NOISE_DRIVEN
        for name, g in ref["grads"].items():
            # the full gradient, not half of it (DDP's average) nor twice it
            assert torch.allclose(got["grads"][name], g, rtol=GRAD_RTOL, atol=GRAD_RTOL * scale), name
        # BatchNorm statistics are those of the global batch, not of one shard
        for name, b in ref["buffers"].items():
            assert torch.allclose(got["buffers"][name].double(), b.double(), rtol=1e-5, atol=1e-6), name


@pytest.mark.slow  # one 2-process job (about 9 s) shared by these tests
def test_training_matches_one_process_with_uneven_shards(runs):
    _, (r0, r1), _ = runs
    ref, hist = _one_process(UNEVEN)
    _check_weights(r0["uneven"], ref)
    # training moved the weights far more than the tolerance
    assert _max_diff(ref.state_dict(), ActionEncoder(ENCODER).state_dict(), skip=NOISE_DRIVEN) > 100 * WEIGHT_ATOL
    assert r0["uneven_loss"] == pytest.approx(hist["loss"], rel=1e-5)
    # DDP keeps the ranks identical, bit for bit
    assert all(torch.equal(r0["uneven"][k], r1["uneven"][k]) for k in r0["uneven"])


@pytest.mark.slow  # one 2-process job (about 9 s) shared by these tests
def test_only_rank_zero_writes_checkpoints(runs):
    out, (r0, r1), _ = runs
    # uneven: epochs 2 and 3; resumed: epoch 2, interrupted, then epoch 4
    assert r0["saves"] == ["uneven", "uneven", "resumed", "resumed"]
    assert r1["saves"] == []
    for run in ("uneven", "resumed"):
        assert sorted(p.name for p in (out / run).iterdir()) == ["config.json", "weights.safetensors"]
        assert load_checkpoint(out / run)[1]["meta"]["complete"]


@pytest.mark.slow  # one 2-process job (about 9 s) shared by these tests
def test_progress_only_on_rank_zero(runs):
    _, _, (err0, err1) = runs
    assert "encoder" in err0
    assert "encoder" not in err1


@pytest.mark.slow  # one 2-process job (about 9 s) shared by these tests
def test_resume_from_partial_checkpoint_under_two_processes(runs):
    out, (r0, r1), _ = runs
    assert r0.get("interrupted") and r1.get("interrupted")
    assert r0["partial_epochs"] == r1["partial_epochs"] == 2
    assert len(r0["resumed_loss"]) == RESUMED.epochs
    ref, hist = _one_process(RESUMED, views=True)
    _check_weights(r0["resumed"], ref)
    assert r0["resumed_loss"] == pytest.approx(hist["loss"], rel=1e-5)
    assert all(torch.equal(r0["resumed"][k], r1["resumed"][k]) for k in r0["resumed"])
    # the checkpoint rank 0 wrote last holds the weights every rank returned
    saved, _ = load_encoder(out / "resumed")
    assert all(torch.equal(saved.state_dict()[k], r0["resumed"][k]) for k in r0["resumed"])


@pytest.mark.slow
def test_torchrun_haad_pretrain(tmp_path, capsys):
    """The documented command: torchrun --nproc_per_node 2 --no-python haad pretrain ... (~10 s)."""
    haad = shutil.which("haad")
    if haad is None:
        pytest.skip("the haad command is not on PATH")
    # One crop per clip: with both (the default) this 4-step run has more entries whose gradient is at
    # rounding level, and a 1-thread process differs from the 2 ranks by 1.4e-3 (a 2-thread one by
    # 1.2e-5): AdamW's lr-sized steps on rounding noise, not a difference in what the ranks compute.
    args = ["pretrain", "--datasets", "synthetic", "--epochs", "2", "--iters-per-epoch", "2", "--quiet",
            "--train-crops", "resample"]
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "--master_port", str(_free_port()), "--no-python", haad, *args,
                          "--out", str(tmp_path / "two"), "--export", str(tmp_path / "shipped")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    # rank 0 alone reports and exports
    assert run.stdout.count("encoder pretrained on 288 clips") == 1 and "by 2 processes" in run.stdout
    assert run.stdout.count("weights exported") == 1
    two, header = load_encoder(tmp_path / "two")
    assert header["meta"]["complete"] and header["meta"]["pretrained"]["categories"]
    # rank 0 measured the hybrid scales once training was done, and the export carries them
    assert all(v > 0 for v in header["meta"]["hybrid"]["scales"].values())
    shipped, shipped_header = load_encoder(tmp_path / "shipped")
    assert shipped_header["meta"]["hybrid"] == header["meta"]["hybrid"]
    assert all(torch.equal(a, b) for a, b in zip(two.state_dict().values(), shipped.state_dict().values()))
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    assert "by 2 processes" not in capsys.readouterr().out
    one, _ = load_encoder(tmp_path / "one")
    diff = _max_diff(two.state_dict(), one.state_dict(), skip=NOISE_DRIVEN)
    print(f"haad pretrain, max |weight difference| 2 processes vs 1: {diff:.3g}")
    # The full-size encoder (16 joints, 4 blocks) has many entries whose gradient is near rounding
    # level; AdamW moves each by up to about lr (1e-3) per step whatever its gradient, so their
    # rounding differences show more: measured 4.5e-5 after 4 steps, bound a fifth of one lr step.
    assert diff < 2e-4


if __name__ == "__main__":
    _worker(Path(sys.argv[1]))
