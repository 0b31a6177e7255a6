"""Which images the clouds show (test split, then optionally training split) and their
encodings, checked against the models applied to those images directly. No Qt."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from vae_gui.model.cloud_points import CloudImages, CloudPoints
from vae_gui.model.config import TrainConfig
from vae_gui.model.networks import build_models
from vae_gui.model.training import Trainer, TrainingControl, snapshot_of, with_cloud


def test_the_test_split_comes_first_then_the_training_split_within_the_cap():
    whole = CloudPoints(n_test=10, n_train=60, include_train=True, max_points=100)
    assert (whole.test_count, whole.count) == (10, 70)
    assert whole.split_of(9) == ("test", 9) and whole.split_of(10) == ("training", 0)
    assert whole.name(69) == "training image 59"
    assert whole.describe() == "10 test + 60 training images"

    capped = CloudPoints(n_test=10, n_train=60, include_train=True, max_points=30)
    assert (capped.test_count, capped.count) == (10, 30)  # the test split whole, then 20
    train = capped.train_index
    assert len(set(train)) == 20 and np.all(np.diff(train) > 0) and train.max() < 60
    assert np.array_equal(train, CloudPoints(10, 60, True, 30).train_index)  # fixed subset
    assert capped.describe() == "10 test + 20 training (of 60) images"

    alone = CloudPoints(n_test=10, n_train=60)
    assert alone.count == 10 and alone.describe() == "10 test images"
    assert CloudPoints(n_test=50, n_train=60, max_points=30).describe() == \
        "30 test (of 50) images"


@pytest.mark.parametrize("as_tensor", [False, True])
def test_batches_and_images_follow_the_point_order(as_tensor):
    rng = np.random.default_rng(0)
    test, train = rng.random((7, 3, 3)), rng.random((11, 3, 3))
    cloud = CloudPoints(7, 11, include_train=True, max_points=15)
    expected = np.concatenate([test[cloud.test_index], train[cloud.train_index]])
    sources = (torch.as_tensor(test), torch.as_tensor(train)) if as_tensor else (test, train)
    got = np.concatenate([np.asarray(b) for b in cloud.batches(*sources, size=4)])
    np.testing.assert_array_equal(got, expected)
    images = CloudImages(cloud, test, train)
    assert len(images) == 15
    np.testing.assert_array_equal(np.stack([images[i] for i in range(15)]), expected)
    np.testing.assert_array_equal(images.test_images(), test)
    with pytest.raises(IndexError):
        images[15]


def _direct(ae, vae, images: np.ndarray):
    """The encodings computed without the cloud's batching: the models on all images."""
    with torch.no_grad():
        x = torch.tensor(images).flatten(1)
        mu, logvar = vae.eval().encode(x)
        return ae.eval().encode(x).numpy(), mu.numpy(), logvar.numpy()


def test_a_snapshot_with_the_training_split_encodes_those_images(tiny_data, small_config):
    ae, vae = build_models(small_config, seed=3)
    cloud = CloudPoints.of(tiny_data, include_train=True)
    s = snapshot_of((ae, vae), tiny_data, cloud=cloud)
    images = np.concatenate([tiny_data.test_images, tiny_data.train_images])
    for got, want in zip((s.ae_codes, s.vae_mu, s.vae_logvar), _direct(ae, vae, images),
                         strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(
        s.labels, np.concatenate([tiny_data.test_labels, tiny_data.train_labels]))
    assert s.cloud == cloud and len(s.labels) == 500

    back = with_cloud(s, tiny_data, CloudPoints.of(tiny_data))  # and the test split alone
    assert back.ae is s.ae and back.vae is s.vae and back.step == s.step
    np.testing.assert_array_equal(back.ae_codes, s.ae_codes[:100])
    np.testing.assert_array_equal(back.labels, tiny_data.test_labels)


def test_a_running_trainer_switches_its_points_at_the_next_snapshot(tiny_data, small_config):
    trainer = Trainer(tiny_data, small_config, TrainConfig(epochs=1, batch_size=100))
    assert len(trainer.snapshot().labels) == 100
    control = TrainingControl()
    control.set_cloud(True)
    snapshots = []
    # A long interval: only the switch and the end make snapshots.
    trainer.run(control, on_snapshot=snapshots.append, snapshot_interval=1e9)
    assert [len(s.labels) for s in snapshots] == [500, 500]
    s = snapshots[-1]
    images = np.concatenate([tiny_data.test_images, tiny_data.train_images])
    np.testing.assert_allclose(s.vae_mu, _direct(s.ae, s.vae, images)[1], rtol=1e-5, atol=1e-6)


def test_a_streamed_folders_cloud_is_counted_out_of_the_whole_splits():
    from types import SimpleNamespace

    # A folder streamed from disk holds 6 of its 40 test and 4 of its 90 training images.
    held = SimpleNamespace(test_images=np.zeros((6, 2, 2)), train_images=np.zeros((4, 2, 2)),
                           n_test=40, n_train=90)
    cloud = CloudPoints.of(held, include_train=True)
    assert (cloud.n_test, cloud.n_train, cloud.count) == (6, 4, 10)  # indexes the held ones
    assert cloud.describe() == "6 test (of 40) + 4 training (of 90) images"
    whole = SimpleNamespace(test_images=np.zeros((6, 2, 2)), train_images=np.zeros((4, 2, 2)),
                            n_test=6, n_train=4)
    assert CloudPoints.of(whole, include_train=True).describe() == "6 test + 4 training images"
