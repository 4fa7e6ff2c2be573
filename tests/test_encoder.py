import pytest
import torch

from haad.encoder import ActionEncoder, EncoderConfig


def test_parameter_count_j24():
    n = sum(p.numel() for p in ActionEncoder(EncoderConfig(num_joints=24)).parameters())
    assert n == 199_966  # METHOD.md: about 0.2 M (reference code: 199,966)


@pytest.mark.parametrize("j", [20, 24, 7])
def test_shapes_any_joint_count(j):
    x = torch.randn(5, 60, j, 3)
    enc = ActionEncoder(EncoderConfig(num_joints=j))
    assert enc(x).shape == (5, j)
    assert enc.node_features(x).shape == (5, j, 30)
    node = ActionEncoder(EncoderConfig(num_joints=j, pooling="node"))
    assert node(x).shape == (5, 30)


def test_node_features_are_dct_coefficient_major():
    from haad.dct import dct

    x = torch.randn(2, 60, 4, 3)
    f = ActionEncoder(EncoderConfig(num_joints=4)).node_features(x)
    c = dct(x, 10)  # (B, M, J, 3)
    assert torch.allclose(f[:, 2, 3 * 4 + 1], c[:, 4, 2, 1], atol=1e-5)


def test_bad_input_shape():
    with pytest.raises(ValueError, match=r"\(B, 60, 24, 3\)"):
        ActionEncoder()(torch.randn(2, 50, 24, 3))
    with pytest.raises(ValueError, match="pooling"):
        EncoderConfig(pooling="mean")
