import functools

import pytest
import torch
from torch import nn

import models
from engine.errors import UserError

ARCHS = sorted(models.MODELS)
SHAPES = [(1, 8, 8), (3, 32, 32)]
NUM_CLASSES = 10
MEAN, STD = 0.5, 0.25


def build(arch, in_shape):
    c = in_shape[0]
    return models.build_model(arch, NUM_CLASSES, in_shape, [MEAN] * c, [STD] * c)


@functools.cache
def built(arch, in_shape):
    """One shared eval-mode model per (arch, shape): building resnet50 costs more than its tests.
    Tests using it must not modify it."""
    torch.manual_seed(0)
    return build(arch, in_shape).eval()


def n_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("in_shape", SHAPES)
@pytest.mark.parametrize("arch", ARCHS)
def test_logits_features_and_normalize_first(arch, in_shape):
    model = built(arch, in_shape)
    x = torch.rand(2, *in_shape)
    with torch.no_grad():
        logits, feats = model(x), model.features(x)
        assert logits.shape == (2, NUM_CLASSES)
        assert feats.shape == (2, model.feature_dim)
        assert isinstance(model.fc, nn.Linear) and model.fc.in_features == model.feature_dim
        assert torch.allclose(model.fc(feats), logits)  # forward is exactly fc(features)
        assert torch.allclose(model.embed((x - MEAN) / STD), feats)  # normalisation comes first


@pytest.mark.parametrize("arch", ARCHS)
def test_normalize_constants_are_in_the_state_dict(arch):
    state = built(arch, (3, 32, 32)).state_dict()
    assert next(iter(state)).startswith("normalize.")
    for name, value in (("mean", MEAN), ("std", STD)):
        assert state[f"normalize.{name}"].shape == (1, 3, 1, 1)
        assert torch.all(state[f"normalize.{name}"] == value)


def test_resnet18_parameter_count():
    assert n_params(built("resnet18", (3, 32, 32))) == 11_173_962
    # a grey image only shrinks the 3x3 stem conv
    assert n_params(built("resnet18", (1, 8, 8))) == 11_173_962 - 2 * 9 * 64


@pytest.mark.parametrize("arch", ARCHS)
def test_state_dict_round_trip(arch, tmp_path):
    model = built(arch, (1, 8, 8))
    torch.save(model.state_dict(), tmp_path / "model.pt")
    torch.manual_seed(1)  # a differently initialised twin, with other constants, built from JSON-like lists
    twin = models.build_model(arch, NUM_CLASSES, [1, 8, 8], [0.0], [1.0])
    twin.load_state_dict(torch.load(tmp_path / "model.pt", weights_only=True))
    twin.eval()
    x = torch.rand(3, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(model(x), twin(x))


@pytest.mark.parametrize("arch", ["cnn", "resnet18"])
def test_functional_call_and_channels_last(arch):
    model = build(arch, (3, 16, 16)).eval()
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        expected = model(x)
        params = {k: torch.zeros_like(v) if k == "fc.bias" else v for k, v in model.named_parameters()}
        shifted = torch.func.functional_call(model, params, (x,))
        assert torch.allclose(shifted, expected - model.fc.bias, atol=1e-5)
        fast = model.to(memory_format=torch.channels_last)
        assert torch.allclose(fast(x.to(memory_format=torch.channels_last)), expected, atol=1e-4)


def test_vgg_skips_pools_on_tiny_inputs():
    def pools(model):
        return sum(isinstance(m, nn.MaxPool2d) for m in model.modules())
    assert pools(built("vgg16_bn", (3, 32, 32))) == 4
    assert pools(built("vgg16_bn", (1, 8, 8))) == 3  # 8 -> 4 -> 2 -> 1, the fourth would give 0


def test_unknown_arch_is_a_user_error():
    with pytest.raises(UserError, match=r"unknown --arch 'nope'; choose one of .*resnet18"):
        build("nope", (3, 32, 32))
    assert models.check_arch("cnn") == "cnn"


def test_mean_std_must_match_channels():
    with pytest.raises(ValueError, match="channels"):
        models.build_model("mlp", NUM_CLASSES, (3, 8, 8), [0.5], [0.25])
