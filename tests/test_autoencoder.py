"""Autoencoder, temporal decoder and discriminators at tiny sizes (seconds on 2 CPU cores)."""

from __future__ import annotations

import pytest
import torch

from drivesim.errors import DrivesimError
from drivesim.models.autoencoder import INITIAL_LOGVAR, Autoencoder, AutoencoderConfig
from drivesim.models.discriminator import (
    PatchDiscriminator2D, PatchDiscriminator3D, hinge_d_loss, hinge_g_loss, perceptual_loss,
)
from drivesim.models.temporal_decoder import TemporalDecoder

SMALL = {4: (32, 32, 32), 8: (32, 32, 32, 32)}


def small_config(factor: int = 4, **kw) -> AutoencoderConfig:
    return AutoencoderConfig(downsample_factor=factor, latent_channels=4, block_channels=SMALL[factor],
                             layers_per_block=1, scaling_factor=kw.pop("scaling_factor", 0.5), **kw)


def frames(n: int = 2, h: int = 32, w: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def perturb_temporal(decoder: TemporalDecoder, scale: float = 0.1) -> None:
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for _, p in decoder.temporal_parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)


@pytest.fixture(scope="module")
def trio():
    torch.manual_seed(0)
    ae = Autoencoder(small_config(4)).eval()
    decoder = TemporalDecoder(ae.config).eval()
    decoder.load_image_decoder(ae)
    return ae, decoder


# --- autoencoder -------------------------------------------------------------------------------

@pytest.mark.parametrize("factor", [4, 8])
def test_autoencoder_shapes_and_scaling(factor):
    torch.manual_seed(0)
    ae = Autoencoder(small_config(factor)).eval()
    x = frames()
    with torch.no_grad():
        z = ae.encode(x)
        assert z.shape == (2, 4, 32 // factor, 64 // factor)
        dist = ae.encode_dist(x)
        torch.testing.assert_close(z, dist.mode() * 0.5)  # scaled by scaling_factor
        assert ae.decode(z).shape == x.shape
        g = lambda: torch.Generator().manual_seed(5)  # noqa: E731
        zs = ae.encode(x, sample=True, generator=g())
        assert not torch.allclose(zs, z)
        torch.testing.assert_close(zs, ae.encode(x, sample=True, generator=g()))
        assert dist.kl().shape == (2,)
        recon, posterior = ae(x)
        assert recon.shape == x.shape and posterior.mean.shape == (2, 4, 32 // factor, 64 // factor)


def test_fresh_posterior_noise_is_small_next_to_the_latents():
    # A unit posterior std at init drowns the weak latent channels (the tiny AE lost colour that way).
    torch.manual_seed(0)
    dist = Autoencoder(small_config(4)).encode_dist(frames())
    std = dist.std.mean().item()
    assert std == pytest.approx(torch.tensor(INITIAL_LOGVAR / 2).exp().item(), rel=0.2)
    assert std < 0.5 * dist.mean.std().item()


@pytest.mark.parametrize("kw, match", [
    (dict(downsample_factor=16), "4 or 8"),
    (dict(downsample_factor=8, block_channels=(32, 64, 64)), "4 entries"),
    (dict(block_channels=(32, 48, 64)), "multiples of 32"),
    (dict(temporal_alpha_init=1.0), "temporal_alpha_init"),
])
def test_autoencoder_config_errors(kw, match):
    with pytest.raises(DrivesimError, match=match):
        AutoencoderConfig(**kw)


def test_latent_size_must_divide():
    config = small_config(8)
    assert config.latent_size((128, 256)) == (16, 32)
    with pytest.raises(DrivesimError, match="divisible"):
        config.latent_size((100, 256))


# --- temporal decoder --------------------------------------------------------------------------

def test_temporal_decoder_image_only_equals_image_decoder(trio):
    ae, decoder = trio
    decoder = TemporalDecoder(ae.config).eval()
    decoder.load_image_decoder(ae)
    perturb_temporal(decoder, 0.5)  # temporal layers are far from identity, yet image_only ignores them
    z = torch.randn(2, 3, 4, 8, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        video = decoder(z, image_only=True)
        images = ae.decode(z.flatten(0, 1)).unflatten(0, (2, 3))
    assert video.shape == (2, 3, 3, 32, 64)
    torch.testing.assert_close(video, images, rtol=0, atol=1e-6)


def test_fresh_temporal_layers_start_at_the_image_decoder(trio):
    ae, decoder = trio
    z = torch.randn(1, 4, 4, 8, 16, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(decoder(z), decoder(z, image_only=True), rtol=0, atol=1e-5)


def test_temporal_path_mixes_frames_after_perturbing(trio):
    ae, _ = trio
    decoder = TemporalDecoder(ae.config).eval()
    decoder.load_image_decoder(ae)
    perturb_temporal(decoder)
    z = torch.randn(1, 4, 4, 8, 16, generator=torch.Generator().manual_seed(2))
    z2 = z.clone()
    z2[:, 2] += 1.0  # change frame 2 only
    with torch.no_grad():
        video, video2 = decoder(z), decoder(z2)
        image, image2 = decoder(z, image_only=True), decoder(z2, image_only=True)
    assert (video - image).abs().max() > 1e-3  # the temporal path changes the output
    # the temporal path carries frame 2's change into its neighbours; the image decoder does not
    assert (video2[:, 1] - video[:, 1]).abs().max() > 1e-4
    assert torch.equal(image2[:, 1], image[:, 1]) and torch.equal(image2[:, 0], image[:, 0])


def test_spatial_weights_bit_identical_after_temporal_step(trio):
    ae, _ = trio
    decoder = TemporalDecoder(ae.config)
    decoder.load_image_decoder(ae)
    spatial, temporal = list(decoder.spatial_parameters()), list(decoder.temporal_parameters())
    names = [n for n, _ in decoder.named_parameters()]
    assert len(spatial) + len(temporal) == len(names)
    assert {n for n, _ in temporal} == {n for n in names if n.startswith("temporal_layers.")}
    for _, p in spatial:  # what the decoder stage does: theta frozen
        p.requires_grad_(False)
    before = {n: p.detach().clone() for n, p in decoder.named_parameters()}
    opt = torch.optim.AdamW([p for _, p in temporal], lr=1e-2, weight_decay=0.1)
    z = torch.randn(1, 3, 4, 8, 16)
    target = torch.rand(1, 3, 3, 32, 64) * 2 - 1
    loss = (decoder(z) - target).pow(2).mean()
    loss.backward()
    opt.step()
    for n, p in decoder.spatial_parameters():
        assert torch.equal(p, before[n]), n
        assert not p.requires_grad
    assert any(not torch.equal(p, before[n]) for n, p in decoder.temporal_parameters())


# --- discriminators and losses -------------------------------------------------------------------

def test_patch_discriminator_2d_shapes():
    d = PatchDiscriminator2D(base_channels=32, num_layers=3)
    assert d(frames(2, 64, 128)).shape == (2, 1, 6, 14)
    assert PatchDiscriminator2D(num_layers=2)(frames(1, 64, 64)).shape == (1, 1, 14, 14)


def test_patch_discriminator_3d_shapes():
    d = PatchDiscriminator3D(base_channels=32, num_layers=2, time_downsample=1)
    clip = torch.rand(2, 8, 3, 32, 64) * 2 - 1
    logits = d(clip)
    assert logits.shape == (2, 1, 4, 6, 14)  # time halved once, space /4, one logit per space-time patch
    # it sees time: shuffling frames changes the logits
    assert not torch.allclose(d(clip[:, torch.randperm(8, generator=torch.Generator().manual_seed(0))]), logits)


def test_hinge_losses():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    # real: relu(1-2)=0, relu(1-0.5)=0.5 -> 0.25; fake: relu(1-2)=0, relu(1+0)=1 -> 0.5; halved sum
    assert hinge_d_loss(real, fake).item() == pytest.approx(0.375)
    assert hinge_g_loss(fake).item() == pytest.approx(1.0)


def test_perceptual_loss():
    x = frames(2, 32, 64)
    assert torch.allclose(perceptual_loss(x, x), torch.zeros(2), atol=1e-6)
    noisy = x + 0.2 * torch.randn_like(x)
    blurred = torch.nn.functional.avg_pool2d(x, 3, 1, 1)
    assert torch.all(perceptual_loss(noisy, x) > 0.05) and torch.all(perceptual_loss(blurred, x) > 0.05)
    # worse reconstructions score worse
    assert torch.all(perceptual_loss(x + 0.4 * torch.randn_like(x), x) > perceptual_loss(noisy, x))
    y = x.clone().requires_grad_(True)
    perceptual_loss(y + 0.1, x).sum().backward()
    assert y.grad is not None and y.grad.abs().sum() > 0
