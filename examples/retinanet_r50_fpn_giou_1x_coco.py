_base_ = './retinanet_r50_fpn_1x_coco.py'

model = dict(
    bbox_head=dict(
        # GIoU is computed on decoded boxes, not on deltas
        reg_decoded_bbox=True,
        # without _delete_ the L1Loss keys would merge into the new dict
        loss_bbox=dict(_delete_=True, type='GIoULoss', loss_weight=2.0)))
