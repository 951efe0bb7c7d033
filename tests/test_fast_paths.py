"""The CUDA fast paths' switches, checked on CPU with a stand-in for a CUDA device."""
import contextlib
from types import SimpleNamespace

import pytest
import torch

import models
from conftest import assert_clean_error, run_main
from engine import device as dev
from engine.errors import UserError

FAKE_CUDA = SimpleNamespace(type="cuda")


def build(arch):
    return models.build_model(arch, 10, (3, 8, 8), (0.5,) * 3, (0.25,) * 3)


def test_cpu_uses_only_channels_last_for_conv_nets():
    plan = dev.fast_path_plan(torch.device("cpu"), False, build("cnn"))
    assert plan == {"data_on_device": True, "bf16_autocast": False, "channels_last": True,
                    "pinned_non_blocking": False, "sync_batchnorm": False, "compile": False}
    assert not dev.fast_path_plan(torch.device("cpu"), False, build("mlp"))["channels_last"]
    assert isinstance(dev.autocast(torch.device("cpu")), contextlib.nullcontext)
    t = torch.arange(3)
    assert dev.to_device(t, "cpu") is t  # no copy on CPU


def test_cuda_turns_the_fast_paths_on():
    plan = dev.fast_path_plan(FAKE_CUDA, True, build("cnn"), bf16=True)
    assert plan == {"data_on_device": True, "bf16_autocast": True, "channels_last": True,
                    "pinned_non_blocking": True, "sync_batchnorm": False, "compile": True}
    # channels_last only for conv nets; no bf16 autocast on a GPU without bf16
    plan = dev.fast_path_plan(FAKE_CUDA, False, build("mlp"), bf16=False)
    assert not plan["channels_last"] and not plan["bf16_autocast"] and not plan["compile"]


def test_sync_batchnorm_only_under_data_parallelism(monkeypatch):
    from engine import distributed
    assert not dev.fast_path_plan(FAKE_CUDA, False, build("cnn"), bf16=True)["sync_batchnorm"]
    monkeypatch.setitem(distributed._state, "active", True)
    assert dev.fast_path_plan(FAKE_CUDA, False, build("cnn"), bf16=True)["sync_batchnorm"]
    assert not dev.fast_path_plan(FAKE_CUDA, False, build("mlp"), bf16=True)["sync_batchnorm"]
    assert not dev.fast_path_plan(torch.device("cpu"), False, build("cnn"))["sync_batchnorm"]


def test_compile_is_refused_on_cpu(tmp_path):
    with pytest.raises(UserError, match="--compile"):
        dev.fast_path_plan(torch.device("cpu"), True)
    with pytest.raises(UserError, match="--compile"):
        dev.prepare_model(build("mlp"), torch.device("cpu"), compile=True)
    save = tmp_path / "out"
    proc = run_main("main_train.py", "--compile", "--device", "cpu", "--save_dir", save)
    assert_clean_error(proc, "--compile", "CPU")
    assert not save.exists()


def test_prepare_model_on_cpu_keeps_the_weights_in_channels_last():
    model = build("cnn")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out = dev.prepare_model(model, torch.device("cpu"))
    assert out is model and all(torch.equal(before[k], v) for k, v in out.state_dict().items())
    convs = [m.weight for m in out.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    plain = build("cnn")
    plain.load_state_dict(before)
    x = torch.rand(4, 3, 8, 8)  # the same function: its logits are the contiguous model's
    assert torch.allclose(out.eval()(x), plain.eval()(x), atol=1e-5)
