"""Pictures of tensors and activation summaries, with known answers."""

import numpy as np
import torch
from PIL import Image

from interp.dataset.pictures import (
    colorize,
    colorize_signed,
    filter_image,
    normalise,
    overlay,
)
from interp.network.activations import top_channels, upsample_map


def test_top_channels_finds_the_planted_ones():
    act = torch.zeros(1, 10, 5, 5)
    act[0, 7] = 2.0  # strong everywhere
    act[0, 3, 4, 1] = 30.0  # one hot spot: strongest peak, weaker mean (30 / 25 = 1.2)
    by_mean = top_channels(act, k=2)
    assert [c.channel for c in by_mean] == [7, 3]
    assert by_mean[1].peak == 30.0 and by_mean[1].peak_yx == (4, 1) and abs(by_mean[1].mean - 1.2) < 1e-6
    assert [c.channel for c in top_channels(act, k=1, by="peak")] == [3]


def test_upsample_keeps_where_the_hot_spot_is():
    grid = torch.zeros(7, 7)
    grid[0, 6] = 1.0  # top right
    big = upsample_map(grid, 224)
    y, x = divmod(int(big.argmax()), 224)
    assert y < 32 and x > 192


def test_colour_maps_have_known_ends():
    ramp = np.array([[0.0, 1.0]])
    pixels = np.asarray(colorize(ramp))
    assert tuple(pixels[0, 0]) == (0, 0, 4) and tuple(pixels[0, 1]) == (252, 255, 164)
    signed = np.asarray(colorize_signed(np.array([[-2.0, 0.0, 2.0]])))
    assert (
        signed[0, 0, 2] > signed[0, 0, 0]
        and tuple(signed[0, 1]) == (247, 247, 247)
        and signed[0, 2, 0] > signed[0, 2, 2]
    )
    assert normalise(np.array([-1.0, 2.0, 4.0])).tolist() == [0.0, 0.5, 1.0]
    assert normalise(np.zeros(3)).tolist() == [0.0, 0.0, 0.0]


def test_overlay_brightens_only_where_the_map_fires():
    photo = Image.new("RGB", (100, 100), (100, 100, 100))
    heat = np.zeros((10, 10))
    heat[:, 5:] = 1.0  # right half fires
    pixels = np.asarray(overlay(photo, heat)).astype(int)
    assert pixels[50, 90].sum() > pixels[50, 10].sum() + 200
    assert tuple(pixels[50, 10]) == (45, 45, 45)  # quiet: the dimmed photo


def test_filter_image_shows_sign_and_channel():
    weight = torch.zeros(3, 7, 7)
    weight[0, :, :3] = 1.0  # red, left columns
    weight[2, :, 4:] = -1.0  # negative blue, right columns
    pixels = np.asarray(filter_image(weight, scale=1))
    assert tuple(pixels[3, 0]) == (255, 127, 127) and tuple(pixels[3, 6]) == (127, 127, 0)
    assert tuple(pixels[3, 3]) == (127, 127, 127)  # zero weight is grey


def test_weight_map_colours_excitation_red_and_inhibition_blue():
    from interp.dataset.pictures import weight_map

    picture = np.asarray(weight_map([[1.0, 0.0], [0.0, -1.0]], vmax=1.0, side=4))
    assert picture.shape == (4, 4, 3)
    assert tuple(picture[0, 0]) == (178, 24, 43)  # +1 at full scale: red
    assert tuple(picture[3, 3]) == (33, 102, 172)  # -1: blue
    assert tuple(picture[0, 3]) == (247, 247, 247)  # 0: white
