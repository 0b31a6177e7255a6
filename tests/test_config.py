"""One source for the bounds of every setting: vae_gui.model.config.BOUNDS.

The CLI's argument checks, the settings panel's spin boxes and ModelConfig/TrainConfig (which
checkpoint loading uses) all take their ranges from it, so a configuration at any bound goes
from the CLI through a checkpoint into the GUI and back unchanged, and a value one past a bound
is refused by all of them alike.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import math  # noqa: E402
import re  # noqa: E402

import pytest  # noqa: E402
from vae_gui.model.cli import build_parser, configs_from_args, main  # noqa: E402
from vae_gui.model.config import BOUNDS, Bound, ModelConfig, TrainConfig  # noqa: E402
from vae_gui.model.data import BUILTIN_DATASETS  # noqa: E402

SETTINGS = {"latent_dim", "hidden", "hidden_layers", "image_side", "seed", "epochs",
            "batch_size", "lr", "beta", "encoder_dropout"}

# The option of `vae-gui train` for each setting, and how one value is written on it.
OPTIONS = {"latent_dim": "--latent-dim", "hidden": "--hidden", "image_side": "--image-size",
           "seed": "--seed", "epochs": "--epochs", "batch_size": "--batch-size", "lr": "--lr",
           "beta": "--beta", "encoder_dropout": "--encoder-dropout"}


def _configs(**values) -> tuple[ModelConfig, TrainConfig]:
    """Configurations with the settings in `values` (BOUNDS keys), the defaults elsewhere."""
    m, t = ModelConfig(), TrainConfig()
    layers = values.pop("hidden_layers", len(m.hidden))
    side = values.pop("image_side", m.image_shape[0])
    hidden = (values.pop("hidden", m.hidden[0]),) * layers
    model = ModelConfig((side, side), hidden, values.pop("latent_dim", m.latent_dim),
                        values.pop("encoder_dropout", m.encoder_dropout))
    train = TrainConfig(**{**t.to_dict(), **values})
    return model, train


def _argv(model: ModelConfig, train: TrainConfig) -> list[str]:
    return ["--image-size", str(model.image_shape[0]), "--latent-dim", str(model.latent_dim),
            "--hidden", *map(str, model.hidden), "--epochs", str(train.epochs),
            "--encoder-dropout", repr(model.encoder_dropout),
            "--batch-size", str(train.batch_size), "--lr", repr(train.lr),
            "--beta", repr(train.beta), "--loss", train.loss, "--seed", str(train.seed),
            "--device", train.device]


AT_THE_BOUNDS = {
    "all-minimum": _configs(**{k: b.min for k, b in BOUNDS.items()}),
    "all-maximum": _configs(**{k: b.max for k, b in BOUNDS.items()}, loss="mse"),
    # The case: latent 100 used to be clamped to 64 by the GUI, the seed to 2**31 - 1,
    # and a learning rate of 3e-6 rounded to 0 by the spin box's 5 decimals.
    "between": _configs(latent_dim=100, seed=4_000_000_000, image_side=512, lr=3e-6,
                        beta=0.0125, hidden=300, hidden_layers=3, epochs=77, batch_size=1000,
                        encoder_dropout=0.15),
}


def test_every_setting_has_one_bound():
    assert set(BOUNDS) == SETTINGS
    for key, bound in BOUNDS.items():
        assert bound.min <= bound.max and bound.min in bound and bound.max in bound, key
    # Hostile values cannot reach the trainer: every upper bound is finite and modest.
    assert BOUNDS["lr"].max <= 10 and BOUNDS["beta"].max <= 1000
    assert BOUNDS["lr"].min > 0 and not BOUNDS["lr"].whole and not BOUNDS["beta"].whole
    assert BOUNDS["seed"] == Bound(0, 2**32 - 1)


@pytest.mark.parametrize("value, problem", [
    (5, None), (1, None), (10, None), (0, "must be at least 1, not 0"),
    (11, "must be at most 10, not 11"), (2.0, "must be a whole number, not 2.0"),
    (True, "must be a whole number, not True"), ("3", "must be a whole number, not '3'"),
])
def test_a_whole_number_bound(value, problem):
    bound = Bound(1, 10)
    assert bound.problem(value) == problem
    assert (value in bound) is (problem is None)


@pytest.mark.parametrize("value, problem", [
    (0.5, None), (2, None), (0.25, None), (0.0, "must be at least 0.25, not 0"),
    (2.5, "must be at most 2, not 2.5"), (math.nan, "must be a finite number, not nan"),
    (math.inf, "must be a finite number, not inf"), (None, "must be a finite number, not None"),
])
def test_a_real_number_bound(value, problem):
    assert Bound(0.25, 2.0, whole=False).problem(value) == problem


@pytest.mark.parametrize("model, train", AT_THE_BOUNDS.values(), ids=AT_THE_BOUNDS.keys())
def test_a_config_at_the_bounds_goes_through_cli_config_and_gui_unchanged(qtbot, model, train):
    from vae_gui.views.settings_panel import SettingsPanel

    assert model.problems() == [] and train.problems() == []
    # The CLI accepts it, and builds exactly these configurations from its arguments.
    args = build_parser().parse_args([*_argv(model, train), "--dataset", "mnist5k"])
    assert configs_from_args(args, model.image_shape) == (model, train)
    # A checkpoint's metadata reads back as the same configurations.
    assert ModelConfig.from_dict(model.to_dict()) == model
    assert TrainConfig.from_dict(train.to_dict()) == train
    # The GUI shows it without clamping or rounding anything, and trains it unchanged.
    panel = SettingsPanel()
    qtbot.addWidget(panel)
    panel.show_configs("mnist5k", model, train)
    spec = panel.spec()
    assert (spec.dataset, spec.model_config, spec.train_config) == ("mnist5k", model, train)


def test_a_checkpoint_written_with_settings_the_gui_used_to_clamp_retrains_unchanged(
        qtbot, tmp_path, make_checkpoint):
    from vae_gui.model.checkpoint import load_checkpoint, save_checkpoint

    from vae_gui.views.settings_panel import SettingsPanel

    model = ModelConfig(hidden=(8,), latent_dim=100)
    train = TrainConfig(epochs=3, seed=2**32 - 1, lr=2.5e-6, beta=0.001)
    path = save_checkpoint(make_checkpoint(config=model, train_config=train),
                           tmp_path / "run.safetensors")
    loaded = load_checkpoint(path)
    panel = SettingsPanel()
    qtbot.addWidget(panel)
    panel.show_configs(loaded.dataset, loaded.model_config, loaded.train_config)
    assert panel.seed.text() == "4294967295" and panel.latent_dim.value() == 100
    spec = panel.spec()
    assert (spec.model_config, spec.train_config) == (model, train)


def _one_past(bound: Bound) -> list:
    if bound.whole:
        return [bound.min - 1, bound.max + 1]
    return [math.nextafter(bound.min, -math.inf), math.nextafter(bound.max, math.inf)]


@pytest.mark.parametrize("key", sorted(OPTIONS))
@pytest.mark.parametrize("side", ["below", "above"])
def test_one_past_a_bound_is_refused_by_the_cli_and_the_config_alike(capsys, tmp_path, key,
                                                                      side):
    bound = BOUNDS[key]
    value = _one_past(bound)[side == "above"]
    problem = bound.problem(value)
    assert problem is not None and problem.startswith(
        "must be at least" if side == "below" else "must be at most")
    text = repr(value) if isinstance(value, float) else str(value)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as info:
        main([f"{OPTIONS[key]}={text}", "--out", str(out)])  # "=": "-1" is no option
    assert info.value.code == 2
    assert f"argument {OPTIONS[key]}: {problem}" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(ValueError, match=re.escape(problem)):
        _configs(**{key: value})


def test_the_number_of_hidden_layers_is_refused_past_its_bound_by_both(capsys, tmp_path):
    bound = BOUNDS["hidden_layers"]
    with pytest.raises(SystemExit) as info:
        main(["--hidden", *["8"] * (bound.max + 1), "--out", str(tmp_path / "o")])
    assert info.value.code == 2
    problem = bound.problem(bound.max + 1)
    assert f"--hidden: the number of layer sizes {problem}" in capsys.readouterr().err
    for layers in _one_past(bound):
        with pytest.raises(ValueError, match="the number of hidden layers must be"):
            _configs(hidden_layers=layers)


def test_the_spin_boxes_have_the_bounds_of_the_config(qtbot):
    from vae_gui.views.settings_panel import SettingsPanel

    panel = SettingsPanel()
    qtbot.addWidget(panel)
    boxes = {"latent_dim": panel.latent_dim, "image_side": panel.image_size,
             "seed": panel.seed, "epochs": panel.epochs, "batch_size": panel.batch_size,
             "lr": panel.lr, "beta": panel.beta, "encoder_dropout": panel.dropout}
    for key, box in boxes.items():
        assert (box.minimum(), box.maximum()) == (BOUNDS[key].min, BOUNDS[key].max), key
        box.setValue(BOUNDS[key].max)
        assert box.value() == BOUNDS[key].max, key
    assert tuple(panel.dataset.itemText(i)
                 for i in range(panel.dataset.count())) == BUILTIN_DATASETS
    assert not hasattr(panel, "changed")  # unused: nothing ever connected to it


def test_the_real_valued_boxes_take_typed_values_and_step_sensibly(qtbot):
    from PySide6 import QtCore

    from vae_gui.views.settings_panel import SettingsPanel

    panel = SettingsPanel()
    qtbot.addWidget(panel)
    panel.lr.setFocus()
    panel.lr.selectAll()
    qtbot.keyClicks(panel.lr, "3e-4")
    qtbot.keyClick(panel.lr, QtCore.Qt.Key.Key_Return)
    assert panel.lr.value() == 3e-4 and panel.lr.text() == "0.0003"
    panel.lr.selectAll()
    qtbot.keyClicks(panel.lr, "-")  # never a negative rate: the key is refused
    assert panel.lr.value() == 3e-4 and panel.lr.text() == "0.0003"
    panel.lr.setValue(1e-3)
    rates = []
    for steps in (1, 1, 1, -1, -1, -1, -1):
        panel.lr.stepBy(steps)
        rates.append(panel.lr.value())
    assert rates == [2e-3, 5e-3, 1e-2, 5e-3, 2e-3, 1e-3, 5e-4]
    panel.lr.setValue(BOUNDS["lr"].max)
    panel.lr.stepBy(1)
    assert panel.lr.value() == BOUNDS["lr"].max
    panel.beta.setValue(0.1)
    panel.beta.stepBy(2)
    assert panel.beta.value() == 0.3 and panel.beta.text() == "0.3"
    panel.beta.stepBy(-5)
    assert panel.beta.value() == 0.0
    assert panel.spec().train_config.beta == 0.0
