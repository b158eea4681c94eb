"""The PyTorch port of mmcv's deformable convolutions (``realhead/pureops.deform_conv``, DCN and
DCNv2, which the comparison of the head model with MMDetection's heads uses where mmcv-lite has no
compiled operators) on hand-counted samples, against a plain convolution where the offsets are 0,
and through mmcv's own modules inside ``pure_ops`` only. ``benchmarks/ops_check.py`` holds it
against torchvision's compiled ``deform_conv2d`` and a formula written another way on random cases."""

from __future__ import annotations

import importlib.util

import pytest

torch = pytest.importorskip("torch")

from losstune.engine.realhead.pureops import deform_conv  # noqa: E402

needs_mmdet = pytest.mark.skipif(
    importlib.util.find_spec("mmdet") is None,
    reason="MMDetection 3.3.0 is not installed (pip install -e '.[dev]' installs it with mmcv-lite)",
)


def _point(feat: torch.Tensor, at: tuple[int, int], dy: float, dx: float) -> float:
    """The 1×1 deformable convolution of weight 1 of ``feat`` at the pixel ``at`` moved by (dy, dx)."""
    offset = torch.zeros(1, 2, *feat.shape[2:])
    offset[0, 0][at], offset[0, 1][at] = dy, dx
    return float(deform_conv(feat, offset, torch.ones(1, 1, 1, 1))[0, 0][at])


def test_a_sample_is_bilinear_between_pixels_and_0_outside_minus_1_to_the_size() -> None:
    # mmcv's deformable_im2col_bilinear: 0 unless -1 < y < H and -1 < x < W; a corner outside counts 0
    feat = (torch.arange(9.0) + 1).view(1, 1, 3, 3)  # 1 2 3 / 4 5 6 / 7 8 9
    assert _point(feat, (0, 0), 0.0, 0.0) == 1.0
    assert _point(feat, (0, 0), 0.5, 0.0) == 2.5  # halfway to the row below: (1 + 4) / 2
    assert _point(feat, (0, 0), 1.0, 1.0) == 5.0  # the first offset channel is the row, the second the column
    assert _point(feat, (1, 1), 0.25, -0.5) == pytest.approx(0.75 * (4 + 5) / 2 + 0.25 * (7 + 8) / 2)
    assert _point(feat, (0, 0), -0.5, -0.5) == 0.25  # three corners outside: a quarter of the first pixel
    assert _point(feat, (0, 0), -1.0, 0.0) == 0.0  # y = -1 is outside
    assert _point(feat, (2, 2), 0.5, 0.0) == 4.5  # the row below the last is 0: half of 9
    assert _point(feat, (2, 2), 1.0, 0.0) == 0.0  # y = H is outside


def test_with_offsets_of_0_it_is_the_convolution() -> None:
    g = torch.Generator().manual_seed(0)
    feat = torch.randn(2, 4, 9, 10, generator=g)
    weight, bias = torch.randn(6, 2, 3, 3, generator=g), torch.randn(6, generator=g)
    for stride, padding, dilation in [((1, 1), (1, 1), (1, 1)), ((2, 1), (0, 2), (2, 1))]:
        plain = torch.nn.functional.conv2d(feat, weight, bias, stride, padding, dilation, groups=2)
        offset = torch.zeros(2, 2 * 2 * 9, *plain.shape[2:])
        ours = deform_conv(feat, offset, weight, None, bias, stride, padding, dilation, groups=2, deform_groups=2)
        assert torch.allclose(ours, plain, atol=1e-5)
        # DCNv2's mask multiplies each sample: a mask of 1/2 halves the convolution, not the bias
        half = torch.full((2, 2 * 9, *plain.shape[2:]), 0.5)
        masked = deform_conv(feat, offset, weight, half, bias, stride, padding, dilation, groups=2, deform_groups=2)
        assert torch.allclose(masked - bias.view(1, 6, 1, 1), (plain - bias.view(1, 6, 1, 1)) / 2, atol=1e-5)


def test_each_kernel_point_and_deformable_group_takes_its_own_offsets() -> None:
    # offset channels 2k and 2k + 1 of group d move kernel point k of group d's channels
    feat = torch.stack([torch.arange(16.0).view(4, 4), 100 + torch.arange(16.0).view(4, 4)]).unsqueeze(0)
    weight = torch.zeros(2, 2, 1, 2)
    weight[0, 0, 0, 1] = 1.0  # output 0: channel 0's second kernel point
    weight[1, 1, 0, 0] = 1.0  # output 1: channel 1's first kernel point
    offset = torch.zeros(1, 2 * 2 * 2, 4, 3)
    offset[0, 2] = 1.0  # group 0, kernel point 1, rows: one row down
    offset[0, 4 + 1] = 2.0  # group 1, kernel point 0, columns: two columns right
    out = deform_conv(feat, offset, weight, deform_groups=2)
    rows = torch.arange(4.0).view(4, 1)
    cols = torch.arange(3.0).view(1, 3)
    below = torch.where(rows < 3, (rows + 1) * 4 + cols + 1, torch.zeros(()))  # point (0, 1) a row down
    right = torch.where(cols + 2 < 4, 100 + rows * 4 + cols + 2, torch.zeros(()))  # point (0, 0) two columns on
    assert torch.equal(out[0, 0], below) and torch.equal(out[0, 1], right)
    with pytest.raises(ValueError, match="offset of shape"):
        deform_conv(feat, offset[:, :4], weight, deform_groups=2)


@needs_mmdet
def test_mmcvs_dcn_and_dcnv2_run_on_the_port_only_inside_pure_ops() -> None:
    from losstune.engine.realhead.importing import load_mmdet
    from losstune.engine.realhead.ops import CompiledOpMissing
    from losstune.engine.realhead.pureops import pure_ops

    if not load_mmdet().stand_in:
        pytest.skip("mmcv has its compiled operators here: nothing is stood in")
    from mmcv.ops import DeformConv2dPack, ModulatedDeformConv2dPack

    torch.manual_seed(0)
    dcn = DeformConv2dPack(4, 6, 3, stride=2, padding=1, deform_groups=2)
    dcnv2 = ModulatedDeformConv2dPack(4, 6, 3, padding=2, dilation=2, bias=True)
    for conv in (dcn.conv_offset, dcnv2.conv_offset):  # offsets and masks away from their zero start
        torch.nn.init.normal_(conv.weight, std=0.5)
    feat = torch.randn(3, 4, 7, 8)
    with torch.no_grad(), pure_ops(torch.nn.Module()) as used:
        ours, ours2 = dcn(feat), dcnv2(feat)
    with torch.no_grad():
        offset = dcn.conv_offset(feat)
        o1, o2, m = torch.chunk(dcnv2.conv_offset(feat), 3, dim=1)
        theirs = deform_conv(feat, offset, dcn.weight, stride=(2, 2), padding=(1, 1), deform_groups=2, im2col_step=3)
        mask = torch.sigmoid(m)
        theirs2 = deform_conv(
            feat, torch.cat((o1, o2), 1), dcnv2.weight, mask, dcnv2.bias, padding=(2, 2), dilation=(2, 2)
        )
    assert torch.equal(ours, theirs) and torch.equal(ours2, theirs2)
    assert offset.abs().max() > 1  # the samples left the pixels
    assert any("DeformConv2d" in u for u in used) and any("ModulatedDeformConv2d" in u for u in used)
    with pytest.raises(CompiledOpMissing, match="deform_conv_forward"):
        dcn(feat)


@needs_mmdet
def test_dcnv2_reads_each_images_offsets_and_masks_as_its_memory_whatever_their_size() -> None:
    # DyHead's spatial_conv_high: the middle level's offsets and masks (8 × 8) to a convolution of
    # the next level's map (4 × 4); mmcv's kernel reads each image's first values in memory order
    from losstune.engine.realhead.importing import load_mmdet
    from losstune.engine.realhead.pureops import pure_ops

    if not load_mmdet().stand_in:
        pytest.skip("mmcv has its compiled operators here: nothing is stood in")
    from mmcv.ops import ModulatedDeformConv2d

    torch.manual_seed(0)
    conv = ModulatedDeformConv2d(2, 3, 3, padding=1)
    both = torch.randn(2, 27, 8, 8)
    offset, mask = both[:, :18], both[:, 18:].sigmoid()  # a slice of the channels, as DyHead takes it
    feat = torch.randn(2, 2, 4, 4)
    with torch.no_grad(), pure_ops(torch.nn.Module()):
        ours = conv(feat, offset, mask)
    read_offset = torch.stack([both[b].flatten()[: 18 * 16].view(18, 4, 4) for b in range(2)])
    read_mask = torch.stack([mask[b].flatten()[: 9 * 16].view(9, 4, 4) for b in range(2)])
    with torch.no_grad():
        theirs = deform_conv(feat, read_offset, conv.weight, read_mask, conv.bias, padding=(1, 1))
    assert torch.equal(ours, theirs)
