"""The judge (model/judge.py): a digit classifier that grades decoded prior samples.

Accuracy of a fresh and of the shipped judge, the Judgement's statistics against independent
computations, deterministic training that leaves the global RNG alone and can be cancelled,
and judge files: a faithful round trip, and a JudgeError for foreign, damaged and pickle files.
No Qt.
"""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest
import torch
from checkpoint_files import Payload, join_safetensors, split_safetensors
from safetensors.torch import save as save_safetensors
from vae_gui.model.checkpoint import load_checkpoint
from vae_gui.model.data import DatasetBundle
from vae_gui.model.errors import JudgeError
from vae_gui.model.judge import (
    FORMAT,
    Judge,
    JudgeLayers,
    judge_images,
    judge_prior_samples,
    judgement_of,
    load_judge,
    save_judge,
    train_judge,
)
from vae_gui.model.latent import decode_images
from vae_gui.model.shipped_files import pretrained_checkpoint, shipped_judge
from vae_gui.resources.build_judge import T10K_NAME, load_t10k


@pytest.fixture(scope="module")
def fresh_judge(mnist5k) -> Judge:
    """A judge trained now with the defaults: the cost a user pays for a new dataset."""
    return train_judge(mnist5k, seed=0)


@pytest.fixture(scope="module")
def judge() -> Judge:
    """The shipped judge (loading it takes milliseconds)."""
    return load_judge(shipped_judge())


@pytest.fixture(scope="module")
def saved_judge(judge, tmp_path_factory):
    path = tmp_path_factory.mktemp("judge") / "judge.safetensors"
    return save_judge(judge, path)


def _refused(path, *words: str) -> str:
    with pytest.raises(JudgeError) as info:
        load_judge(path)
    message = str(info.value)
    assert str(path) in message
    assert all(w in message for w in words), message
    return message


# ----------------------------------------------------------------------------- accuracy


@pytest.mark.slow  # trains a judge: tens of seconds on a busy 2-core machine
def test_a_freshly_trained_judge_is_accurate_on_held_out_digits(fresh_judge, mnist5k):
    assert fresh_judge.test_accuracy >= 0.95
    assert fresh_judge.test_accuracy == fresh_judge.accuracy(mnist5k.test_images,
                                                             mnist5k.test_labels)
    assert fresh_judge.train_accuracy >= fresh_judge.test_accuracy - 0.02
    assert (fresh_judge.dataset, fresh_judge.class_names) == ("mnist5k", tuple("0123456789"))
    assert fresh_judge.image_shape == (28, 28)
    net = fresh_judge.network
    assert not net.training and not any(p.requires_grad for p in net.parameters())


def test_the_shipped_judge_loads_and_is_accurate(judge, mnist5k):
    accuracy = judge.accuracy(mnist5k.test_images, mnist5k.test_labels)
    assert accuracy >= 0.95
    # What its metadata records is what it scores (same weights, same test split).
    assert judge.test_accuracy == pytest.approx(accuracy, abs=1e-9)
    assert judge.dataset == "mnist5k" and judge.class_names == tuple("0123456789")
    assert judge.image_shape == (28, 28) and judge.layers == JudgeLayers()


def test_the_shipped_judge_is_accurate_on_the_real_mnist_test_set(judge):
    t10k = load_t10k()
    if t10k is None:
        pytest.skip("the MNIST t10k files are not beside the project (../shared/data)")
    images, labels = t10k
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    accuracy = judge.accuracy(images, labels)
    assert accuracy >= 0.95
    assert dict(judge.evaluations)[T10K_NAME] == pytest.approx(accuracy, abs=1e-9)


# ---------------------------------------------------------------------------- judgement


def test_judgement_statistics_match_independent_computations(judge, mnist5k):
    images = mnist5k.test_images[:300]
    verdict = judge_images(judge, images)
    probs = judge.probabilities(images)
    assert probs.shape == (300, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)

    predicted = probs.argmax(axis=1)
    counts = np.array([np.sum(predicted == c) for c in range(10)])
    assert verdict.class_counts == tuple(counts) and verdict.n_samples == 300
    shares = torch.tensor(verdict.class_shares, dtype=torch.float64)
    np.testing.assert_allclose(shares.numpy(), counts / 300)
    expected_entropy = torch.distributions.Categorical(probs=shares).entropy().item()
    assert verdict.entropy_nats == pytest.approx(expected_entropy, abs=1e-12)
    expected_confidence = np.mean([max(row) for row in probs.astype(np.float64)])
    assert verdict.mean_confidence == pytest.approx(expected_confidence, abs=1e-12)
    assert verdict.max_entropy_nats == pytest.approx(math.log(10))
    assert verdict.largest_class == int(np.argmax(counts))
    assert verdict.largest_share == pytest.approx(counts.max() / 300)
    assert verdict.evenness == pytest.approx(expected_entropy / math.log(10))


@pytest.mark.parametrize("digit", [0, 1, 7])
def test_one_class_of_digits_is_one_class_with_entropy_near_zero(judge, mnist5k, digit):
    images = mnist5k.test_images[mnist5k.test_labels == digit]
    verdict = judge_images(judge, images)
    assert verdict.largest_class == digit and verdict.largest_class_name == str(digit)
    assert verdict.largest_share >= 0.9
    assert verdict.entropy_nats < 0.4  # a few mistakes among 100 images
    assert verdict.mean_confidence > 0.9


def test_the_whole_test_split_covers_every_class_with_entropy_near_log_10(judge, mnist5k):
    verdict = judge_images(judge, mnist5k.test_images)
    assert verdict.entropy_nats == pytest.approx(math.log(10), abs=0.01)  # 100 of each digit
    assert verdict.evenness > 0.99 and min(verdict.class_counts) >= 90
    assert sum(verdict.class_counts) == 1000 == verdict.n_samples


def test_a_single_predicted_class_has_entropy_exactly_zero():
    probs = np.tile([0.1, 0.7, 0.2], (5, 1))
    verdict = judgement_of(probs, ("a", "b", "c"))
    assert verdict.entropy_nats == 0.0 and verdict.class_counts == (0, 5, 0)
    assert verdict.largest_class_name == "b" and verdict.mean_confidence == pytest.approx(0.7)
    with pytest.raises(JudgeError):
        judgement_of(np.zeros((0, 3)))


def test_prior_samples_are_drawn_from_the_seed_and_judged(judge):
    seen = []

    def decode(z: np.ndarray) -> np.ndarray:
        seen.append(z.copy())
        rng = np.random.default_rng(0)
        return rng.random((len(z), 28, 28), dtype=np.float32)

    verdict = judge_prior_samples(judge, decode, latent_dim=3, n=50, seed=4)
    expected_z = np.random.default_rng(4).standard_normal((50, 3)).astype(np.float32)
    np.testing.assert_array_equal(seen[0], expected_z)
    assert verdict.n_samples == 50 and sum(verdict.class_counts) == 50
    again = judge_prior_samples(judge, decode, latent_dim=3, n=50, seed=4)
    assert again == verdict


def test_judging_the_pretrained_models_prior_samples(judge):
    # The question the evidence panel asks, on the models the window starts with.
    checkpoint = load_checkpoint(pretrained_checkpoint())
    d = checkpoint.model_config.latent_dim
    shape = checkpoint.model_config.image_shape
    for model in (checkpoint.ae, checkpoint.vae):
        verdict = judge_prior_samples(judge, lambda z, m=model: decode_images(m, z, shape), d,
                                      n=400, seed=0)
        assert verdict.n_samples == 400 and sum(verdict.class_shares) == pytest.approx(1.0)
        assert 0.0 <= verdict.entropy_nats <= verdict.max_entropy_nats
        assert 0.1 <= verdict.mean_confidence <= 1.0


def test_images_of_another_size_are_refused_with_a_reason(judge):
    with pytest.raises(JudgeError, match="28x28"):
        judge.probabilities(np.zeros((2, 32, 32), dtype=np.float32))
    with pytest.raises(JudgeError, match="NaN"):
        judge.probabilities(np.full((1, 28, 28), np.nan, dtype=np.float32))
    with pytest.raises(JudgeError, match="1 images"):
        judge_prior_samples(judge, lambda z: np.zeros((1, 28, 28), np.float32), 2, n=3)


# ----------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def small_data(mnist5k) -> DatasetBundle:
    return DatasetBundle("small", mnist5k.train_images[:300], mnist5k.train_labels[:300],
                         mnist5k.test_images[:50], mnist5k.test_labels[:50],
                         mnist5k.class_names)


def test_training_is_deterministic_and_leaves_the_global_rng_alone(small_data):
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    a = train_judge(small_data, seed=3, epochs=1)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert all(np.array_equal(x, y) for x, y in zip(np.random.get_state(), numpy_state,
                                                    strict=True))
    torch.manual_seed(12345)  # another global state must not change the result
    b = train_judge(small_data, seed=3, epochs=1)
    c = train_judge(small_data, seed=4, epochs=1)
    weights = [j.network.state_dict() for j in (a, b, c)]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert not all(torch.equal(weights[0][k], weights[2][k]) for k in weights[0])


def test_a_raising_check_stops_training(small_data):
    calls = 0

    class Stop(Exception):
        pass

    def check() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise Stop

    with pytest.raises(Stop):
        train_judge(small_data, epochs=50, check=check)
    assert calls == 3  # called before every batch, and nothing ran after it raised


def test_training_refuses_data_it_cannot_learn_from(small_data):
    with pytest.raises(JudgeError, match="epoch"):
        train_judge(small_data, epochs=0)
    bad = DatasetBundle("bad", small_data.train_images, small_data.train_labels,
                        small_data.test_images, small_data.test_labels, ("0", "1"))
    with pytest.raises(JudgeError, match="labels outside"):
        train_judge(bad, epochs=1)


def test_other_image_sizes_are_resampled_to_the_networks_grid(small_data):
    rng = np.random.default_rng(0)
    data = DatasetBundle("tiny", rng.random((40, 12, 20), dtype=np.float32),
                         np.arange(40) % 3, rng.random((9, 12, 20), dtype=np.float32),
                         np.arange(9) % 3, ("a", "b", "c"))
    j = train_judge(data, epochs=1)
    assert j.image_shape == (12, 20) and j.probabilities(data.test_images).shape == (9, 3)


# ---------------------------------------------------------------------------- save, load


def test_save_load_round_trip_gives_identical_probabilities(judge, mnist5k, tmp_path):
    judge = judge.with_evaluation("elsewhere", 0.5)
    loaded = load_judge(save_judge(judge, tmp_path / "j.safetensors"))
    images = mnist5k.test_images[:200]
    np.testing.assert_array_equal(loaded.probabilities(images), judge.probabilities(images))
    assert loaded.metadata() == judge.metadata()
    assert loaded.evaluations == judge.evaluations and ("elsewhere", 0.5) in judge.evaluations
    assert not loaded.network.training
    assert not any(p.requires_grad for p in loaded.network.parameters())


def test_the_metadata_says_what_the_judge_is(saved_judge):
    header, _ = split_safetensors(saved_judge.read_bytes())
    meta = json.loads(header["__metadata__"]["vae_gui"])
    assert meta["format"] == FORMAT == "vae-gui-judge" and meta["version"] == 1
    assert meta["class_names"] == list("0123456789") and meta["image_shape"] == [28, 28]
    assert meta["dataset"] == "mnist5k" and meta["test_accuracy"] >= 0.95
    assert meta["layers"] == JudgeLayers().to_dict()


def test_a_foreign_safetensors_file_is_refused(tmp_path):
    path = tmp_path / "foreign.safetensors"
    path.write_bytes(save_safetensors({"weight": torch.zeros(3, 3)}))
    _refused(path, "not a judge")
    path.write_bytes(save_safetensors({"w": torch.zeros(1)},
                                      metadata={"vae_gui": json.dumps({"format": "other"})}))
    _refused(path, "not a vae-gui judge", "'other'")


def test_a_vae_gui_checkpoint_is_named_as_such():
    _refused(pretrained_checkpoint(), "checkpoint", "not a judge")


@pytest.mark.parametrize("fraction", [0.0001, 0.01, 0.5, 0.999])
def test_a_truncated_file_is_refused(saved_judge, tmp_path, fraction):
    blob = saved_judge.read_bytes()
    path = tmp_path / "truncated.safetensors"
    path.write_bytes(blob[:max(1, int(len(blob) * fraction))])
    _refused(path, "truncated")


def test_an_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.safetensors"
    path.write_bytes(b"")
    _refused(path, "empty")


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_a_pickle_file_is_refused_without_running_it(tmp_path, protocol):
    marker = tmp_path / "ran"
    path = tmp_path / "judge.pt"
    path.write_bytes(pickle.dumps({"state_dict": Payload(marker)}, protocol=protocol))
    _refused(path, "pickle", "never opens")
    assert not marker.exists()


def test_a_torch_save_file_is_refused(tmp_path, judge):
    path = tmp_path / "judge.pt"
    torch.save(judge.network.state_dict(), path)
    _refused(path, "torch.save")


def _tampered(saved_judge, tmp_path, change) -> object:
    header, data = split_safetensors(saved_judge.read_bytes())
    meta = json.loads(header["__metadata__"]["vae_gui"])
    change(header, meta)
    header["__metadata__"]["vae_gui"] = json.dumps(meta)
    path = tmp_path / "tampered.safetensors"
    path.write_bytes(join_safetensors(header, data))
    return path


@pytest.mark.parametrize(("change", "words"), [
    (lambda h, m: m.update(version=2), ("version 2", "Update vae-gui")),
    (lambda h, m: m.pop("class_names"), ("missing field", "class_names")),
    (lambda h, m: m.update(class_names=list("0123")), ("fc2.weight", "[4, 128]")),
    (lambda h, m: m.update(layers={**m["layers"], "hidden": 64}), ("fc1.weight",)),
    (lambda h, m: m.update(layers={**m["layers"], "kernel": 99}), ("kernel",)),
    (lambda h, m: m.update(test_accuracy=1.5), ("test_accuracy",)),
    (lambda h, m: m.update(image_shape=[28]), ("image_shape",)),
    (lambda h, m: h.update({"fc2.b": h.pop("fc2.bias")}), ("missing ['fc2.bias']", "fc2.b'")),
    (lambda h, m: h.pop("fc2.bias"), ("damaged", "do not fit")),
])
def test_metadata_and_tensors_are_validated_before_reading(saved_judge, tmp_path, change,
                                                           words):
    _refused(_tampered(saved_judge, tmp_path, change), *words)


def test_non_finite_weights_are_refused(judge, tmp_path):
    broken = Judge(judge.network, judge.class_names, judge.image_shape, judge.dataset,
                   judge.train_accuracy, judge.test_accuracy)
    state = {k: v.clone() for k, v in judge.network.state_dict().items()}
    state["fc2.bias"][0] = float("nan")
    path = tmp_path / "nan.safetensors"
    blob = save_safetensors(state, metadata={"vae_gui": json.dumps(broken.metadata())})
    path.write_bytes(blob)
    _refused(path, "NaN")


def test_a_missing_path_and_a_folder_are_refused(tmp_path):
    _refused(tmp_path / "nowhere.safetensors", "does not exist")
    _refused(tmp_path, "not a regular file")
