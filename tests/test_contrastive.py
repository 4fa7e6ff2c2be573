import math

import numpy as np
import pytest
import torch

from haad.contrastive import BalancedBatchSampler, multi_positive_loss


def test_loss_hand_computed_two_groups():
    z = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
    g = torch.tensor([0, 0, 1, 1])
    # every anchor: one positive at cos 1, two negatives at cos 0
    expected = -math.log(math.e / (math.e + 2))
    assert multi_positive_loss(z, g).item() == pytest.approx(expected, rel=1e-6)
    expected_t = -math.log(math.e ** 2 / (math.e ** 2 + 2))
    assert multi_positive_loss(z, g, temperature=0.5).item() == pytest.approx(expected_t, rel=1e-6)


def test_loss_hand_computed_uneven():
    z = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    g = torch.tensor([0, 0, 1])
    # positive pairs (0,1) and (1,0); cos(0,1)=0.6, cos(0,2)=0, cos(1,2)=0.8
    l0 = -math.log(math.exp(0.6) / (math.exp(0.6) + math.exp(0.0)))
    l1 = -math.log(math.exp(0.6) / (math.exp(0.6) + math.exp(0.8)))
    assert multi_positive_loss(z, g).item() == pytest.approx((l0 + l1) / 2, rel=1e-6)


def test_loss_averages_over_pairs_with_many_positives():
    torch.manual_seed(0)
    z = torch.randn(6, 5)
    g = torch.tensor([0, 0, 0, 1, 1, 2])
    zn = torch.nn.functional.normalize(z, dim=1)
    s = zn @ zn.T
    total, n = 0.0, 0
    for i in range(6):
        denom = sum(math.exp(s[i, k]) for k in range(6) if k != i)
        for j in range(6):
            if j != i and g[i] == g[j]:
                total += -math.log(math.exp(s[i, j]) / denom)
                n += 1
    assert n == 8
    assert multi_positive_loss(z, g).item() == pytest.approx(total / n, rel=1e-5)


def test_loss_needs_positives():
    with pytest.raises(ValueError, match="no positive pairs"):
        multi_positive_loss(torch.randn(3, 4), torch.tensor([0, 1, 2]))


def test_balanced_sampler():
    labels = np.array([0] * 5 + [1] * 3 + [2] * 4)
    s = BalancedBatchSampler(labels, per_class=2)
    rng = np.random.default_rng(0)
    for _ in range(20):
        idx = s.sample(rng)
        assert len(idx) == 6
        assert list(labels[idx]) == [0, 0, 1, 1, 2, 2]
        assert len(set(idx.tolist())) == 6
    with pytest.raises(ValueError, match="fewer than 2"):
        BalancedBatchSampler(np.array([0, 0, 1]), per_class=2)


def test_sampler_balances_groups_of_categories():
    from haad.contrastive import BalancedBatchSampler

    labels = np.repeat(np.arange(10), 4)  # categories 0-6 in group "a", 7-9 in group "b"
    groups = {c: "a" if c < 7 else "b" for c in range(10)}
    sampler = BalancedBatchSampler(labels, 2, groups, per_group=3)
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(50):
        batch = labels[sampler.sample(rng)]
        cats, counts = np.unique(batch, return_counts=True)
        assert (counts == 2).all() and np.sum(cats < 7) == 3 and set(cats[cats >= 7]) == {7, 8, 9}
        seen |= set(cats.tolist())
    assert seen == set(range(10))  # group a's categories take turns
    with pytest.raises(ValueError, match="no group"):
        BalancedBatchSampler(labels, 2, {0: "a"}, per_group=1)
    with pytest.raises(ValueError, match="needs groups"):
        BalancedBatchSampler(labels, 2, None, per_group=1)
